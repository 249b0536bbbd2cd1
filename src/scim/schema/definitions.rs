//! The schemas this service speaks: RFC 7643 §4 User and Group, §4.3
//! EnterpriseUser, and the vendor's configurable User extension.

use super::attribute::{AttrType, AttributeDef, Mutability, Returned, Schema, Uniqueness};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Default URN of the vendor extension that carries the seed vendors' extras.
pub const DEFAULT_EXTENSION_URN: &str = "urn:ietf:params:scim:schemas:extension:vendor:2.0:User";
/// Default attributes of the vendor extension (all singular strings).
pub const DEFAULT_EXTENSION_ATTRIBUTES: &[&str] = &[
    "gender",
    "academicTitle",
    "employeeType",
    "city",
    "office",
    "businessUnit",
    "grade",
];

use AttributeDef as A;

fn read_only(a: AttributeDef) -> AttributeDef {
    a.mutability(Mutability::ReadOnly)
}

/// `value`/`display`/`type`/`primary`: the sub-attributes every RFC 7643
/// multi-valued attribute shares.
fn multi_valued(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> A {
    let mut ty = A::string("type", "A label indicating the attribute's function.");
    if !types.is_empty() {
        ty = ty.canonical(types);
    }
    A::complex(
        name,
        description,
        vec![
            value,
            A::string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            ty,
            A::boolean(
                "primary",
                "A Boolean value indicating the 'primary' or preferred attribute value.",
            ),
        ],
    )
    .multi()
}

fn string_value(description: &str) -> A {
    A::string("value", description)
}

/// `id`, `externalId` and `meta` (RFC 7643 §3.1): present on every resource,
/// defined by no schema, but filterable and projectable like any attribute.
pub fn common_attributes() -> Vec<AttributeDef> {
    vec![
        A::string(
            "id",
            "Unique identifier for the SCIM resource, issued by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
        A::string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        read_only(A::complex(
            "meta",
            "Resource metadata.",
            vec![
                read_only(A::string("resourceType", "The name of the resource type.").case_exact()),
                read_only(A::new(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                )),
                read_only(A::new(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last modified.",
                )),
                read_only(
                    A::reference("location", &["uri"], "The URI of the resource.").case_exact(),
                ),
                read_only(A::string("version", "The version (ETag) of the resource.").case_exact()),
            ],
        )),
    ]
}

/// RFC 7643 §4.1 / §8.7.1.
pub fn user_schema() -> Schema {
    let name = A::complex(
        "name",
        "The components of the user's real name.",
        vec![
            A::string("formatted", "The full name, formatted for display."),
            A::string("familyName", "The family name of the User."),
            A::string("givenName", "The given name of the User."),
            A::string("middleName", "The middle name(s) of the User."),
            A::string("honorificPrefix", "The honorific prefix(es) of the User."),
            A::string("honorificSuffix", "The honorific suffix(es) of the User."),
        ],
    );
    let addresses = A::complex(
        "addresses",
        "A physical mailing address for this User.",
        vec![
            A::string(
                "formatted",
                "The full mailing address, formatted for display.",
            ),
            A::string("streetAddress", "The full street address component."),
            A::string("locality", "The city or locality component."),
            A::string("region", "The state or region component."),
            A::string("postalCode", "The zip code or postal code component."),
            A::string("country", "The country name component."),
            A::string("type", "A label indicating the attribute's function.")
                .canonical(&["work", "home", "other"]),
            A::boolean("primary", "Indicates the primary address."),
        ],
    )
    .multi();
    let groups = read_only(
        A::complex(
            "groups",
            "A list of groups to which the user belongs.",
            vec![
                read_only(A::string("value", "The identifier of the User's group.")),
                read_only(A::reference(
                    "$ref",
                    &["User", "Group"],
                    "The URI of the group.",
                )),
                read_only(A::string("display", "A human-readable name of the group.")),
                read_only(
                    A::string("type", "How the group membership was derived.")
                        .canonical(&["direct", "indirect"]),
                ),
            ],
        )
        .multi(),
    );
    Schema {
        id: USER_URN.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            A::string(
                "userName",
                "Unique identifier for the User, used to authenticate.",
            )
            .required()
            .uniqueness(Uniqueness::Server),
            name,
            A::string("displayName", "The name of the User, suitable for display."),
            A::string("nickName", "The casual way to address the user."),
            A::reference(
                "profileUrl",
                &["external"],
                "A URI of the User's online profile.",
            ),
            A::string("title", "The user's title, such as \"Vice President\"."),
            A::string(
                "userType",
                "The relationship between the organization and the user.",
            ),
            A::string(
                "preferredLanguage",
                "The User's preferred written or spoken language.",
            ),
            A::string("locale", "The User's default location for localization."),
            A::string(
                "timezone",
                "The User's time zone in the IANA Time Zone database format.",
            ),
            A::boolean("active", "The User's administrative status."),
            A::string(
                "password",
                "The User's cleartext password; never stored or returned.",
            )
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
            multi_valued(
                "emails",
                "Email addresses for the user.",
                string_value("Email address for the user."),
                &["work", "home", "other"],
            ),
            multi_valued(
                "phoneNumbers",
                "Phone numbers for the User.",
                string_value("Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            multi_valued(
                "ims",
                "Instant messaging addresses for the User.",
                string_value("Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            multi_valued(
                "photos",
                "URLs of photos of the User.",
                A::reference("value", &["external"], "URL of a photo of the User."),
                &["photo", "thumbnail"],
            ),
            addresses,
            groups,
            multi_valued(
                "entitlements",
                "A list of entitlements for the User.",
                string_value("The value of an entitlement."),
                &[],
            ),
            multi_valued(
                "roles",
                "A list of roles for the User.",
                string_value("The value of a role."),
                &[],
            ),
            multi_valued(
                "x509Certificates",
                "A list of certificates issued to the User.",
                A::new(
                    "value",
                    AttrType::Binary,
                    "The value of an X.509 certificate.",
                )
                .case_exact(),
                &[],
            ),
        ],
    }
}

/// RFC 7643 §4.3.
pub fn enterprise_schema() -> Schema {
    Schema {
        id: ENTERPRISE_URN.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            A::string(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person.",
            ),
            A::string("costCenter", "Identifies the name of a cost center."),
            A::string("organization", "Identifies the name of an organization."),
            A::string("division", "Identifies the name of a division."),
            A::string("department", "Identifies the name of a department."),
            A::complex(
                "manager",
                "The User's manager.",
                vec![
                    A::string(
                        "value",
                        "The id of the SCIM resource representing the User's manager.",
                    ),
                    A::reference(
                        "$ref",
                        &["User"],
                        "The URI of the SCIM resource representing the User's manager.",
                    ),
                    read_only(A::string(
                        "displayName",
                        "The displayName of the User's manager.",
                    )),
                ],
            ),
        ],
    }
}

/// RFC 7643 §4.2 / §8.7.1.
pub fn group_schema() -> Schema {
    Schema {
        id: GROUP_URN.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            A::string("displayName", "A human-readable name for the Group.")
                .required()
                .uniqueness(Uniqueness::Server),
            A::complex(
                "members",
                "A list of members of the Group.",
                vec![
                    A::string("value", "Identifier of the member of this Group.")
                        .case_exact()
                        .mutability(Mutability::Immutable),
                    A::reference(
                        "$ref",
                        &["User", "Group"],
                        "The URI of the member resource.",
                    )
                    .mutability(Mutability::Immutable),
                    A::string("type", "The type of the member.")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable),
                    read_only(A::string("display", "A human-readable name of the member.")),
                ],
            )
            .multi(),
        ],
    }
}

/// Read-only attribute of the vendor extension holding the email of the
/// user's manager (the seed vendors' "Responsible person email").
pub const MANAGER_EMAIL: &str = "managerEmail";

/// The vendor extension: singular read-write strings named by
/// configuration, plus the read-only [`MANAGER_EMAIL`].
pub fn vendor_extension_schema(urn: &str, attributes: &[String]) -> Schema {
    let configured = attributes
        .iter()
        .filter(|name| !name.eq_ignore_ascii_case(MANAGER_EMAIL))
        .map(|name| A::string(name, "Vendor-specific attribute."));
    let manager_email = read_only(A::string(
        MANAGER_EMAIL,
        "Email of the User's manager, maintained by the service from the enterprise manager reference.",
    ));
    Schema {
        id: urn.to_owned(),
        name: "VendorUser".to_owned(),
        description: "Vendor-specific User attributes".to_owned(),
        attributes: configured.chain(std::iter::once(manager_email)).collect(),
    }
}
