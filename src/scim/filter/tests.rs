//! Grammar, printing, evaluation and index tests, plus property tests.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::schema::{DEFAULT_EXTENSION_URN, ENTERPRISE_URN, USER_URN};

use CompareOp::{Co, Eq, Ew, Ge, Gt, Le, Lt, Ne, Sw};

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

fn user(text: &str) -> Result<Filter, FilterError> {
    Filter::parse(text, ResourceKind::User, &REGISTRY)
}

fn group(text: &str) -> Result<Filter, FilterError> {
    Filter::parse(text, ResourceKind::Group, &REGISTRY)
}

fn p(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn ps(name: &str, sub: &str) -> AttrPath {
    AttrPath::with_sub(name, sub)
}

fn ent(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath::in_extension(ENTERPRISE_URN, name, sub)
}

fn s(v: &str) -> CompValue {
    CompValue::Str(v.to_owned())
}

fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path, op, value }
}

fn eq(path: AttrPath, v: &str) -> Filter {
    cmp(path, Eq, s(v))
}

fn pr(path: AttrPath) -> Filter {
    Filter::Present(path)
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn vp(attr: AttrPath, filter: Filter) -> Filter {
    Filter::ValuePath {
        attr,
        filter: Box::new(filter),
    }
}

/// Parses every text as a User filter and checks the AST and the canonical
/// text it prints, which must parse back to the same AST.
fn check_user(cases: &[(&str, Filter, &str)]) {
    for (text, want, printed) in cases {
        let got = user(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&got, want, "{text}");
        assert_eq!(got.to_string(), *printed, "{text}");
        assert_eq!(user(printed).as_ref(), Ok(want), "{printed}");
    }
}

#[test]
fn every_operator() {
    let cases: Vec<(String, Filter, String)> = CompareOp::ALL
        .iter()
        .flat_map(|&op| {
            let printed = format!("userName {op} \"x\"");
            [op.keyword().to_owned(), op.keyword().to_uppercase()]
                .into_iter()
                .map(move |kw| {
                    (
                        format!("userName {kw} \"x\""),
                        cmp(p("userName"), op, s("x")),
                        printed.clone(),
                    )
                })
        })
        .chain([("title PR".to_owned(), pr(p("title")), "title pr".to_owned())])
        .collect();
    let cases: Vec<_> = cases
        .iter()
        .map(|(t, f, p)| (t.as_str(), f.clone(), p.as_str()))
        .collect();
    check_user(&cases);
}

#[test]
fn literals() {
    check_user(&[
        (
            r#"userName eq "bjensen""#,
            eq(p("userName"), "bjensen"),
            r#"userName eq "bjensen""#,
        ),
        (
            r#"userName eq """#,
            eq(p("userName"), ""),
            r#"userName eq """#,
        ),
        (
            r#"title eq "say \"hi\"""#,
            eq(p("title"), "say \"hi\""),
            r#"title eq "say \"hi\"""#,
        ),
        (
            r#"title eq "a\\b""#,
            eq(p("title"), "a\\b"),
            r#"title eq "a\\b""#,
        ),
        (
            r#"name.givenName eq "Ren\u00e9e""#,
            eq(ps("name", "givenName"), "Renée"),
            r#"name.givenName eq "Renée""#,
        ),
        (
            r#"title eq "tab\there""#,
            eq(p("title"), "tab\there"),
            r#"title eq "tab\there""#,
        ),
        (
            r#"title eq "\u0001""#,
            eq(p("title"), "\u{1}"),
            r#"title eq "\u0001""#,
        ),
        (
            r#"title eq "[not] (and) or""#,
            eq(p("title"), "[not] (and) or"),
            r#"title eq "[not] (and) or""#,
        ),
        // Numbers compared with a string attribute keep their text.
        (
            "externalId eq 42",
            eq(p("externalId"), "42"),
            r#"externalId eq "42""#,
        ),
        (
            "externalId eq -1.5e3",
            eq(p("externalId"), "-1.5e3"),
            r#"externalId eq "-1.5e3""#,
        ),
        (
            "externalId eq 0.25",
            eq(p("externalId"), "0.25"),
            r#"externalId eq "0.25""#,
        ),
        (
            "active eq true",
            cmp(p("active"), Eq, CompValue::Bool(true)),
            "active eq true",
        ),
        (
            "active eq FALSE",
            cmp(p("active"), Eq, CompValue::Bool(false)),
            "active eq false",
        ),
        (
            "active ne True",
            cmp(p("active"), Ne, CompValue::Bool(true)),
            "active ne true",
        ),
        // Entra ID sends booleans as strings.
        (
            r#"active eq "True""#,
            cmp(p("active"), Eq, CompValue::Bool(true)),
            "active eq true",
        ),
        (
            r#"active eq "false""#,
            cmp(p("active"), Eq, CompValue::Bool(false)),
            "active eq false",
        ),
        (
            "title eq null",
            cmp(p("title"), Eq, CompValue::Null),
            "title eq null",
        ),
        (
            "title ne NULL",
            cmp(p("title"), Ne, CompValue::Null),
            "title ne null",
        ),
        (
            "active eq null",
            cmp(p("active"), Eq, CompValue::Null),
            "active eq null",
        ),
        (
            "emails eq Null",
            cmp(p("emails"), Eq, CompValue::Null),
            "emails eq null",
        ),
        (
            r#"meta.created ge "2011-05-13T04:42:34.5+02:00""#,
            cmp(ps("meta", "created"), Ge, s("2011-05-13T04:42:34.5+02:00")),
            r#"meta.created ge "2011-05-13T04:42:34.5+02:00""#,
        ),
        // Substring operators on dateTimes compare text: any string goes.
        (
            r#"meta.created sw "2011-05""#,
            cmp(ps("meta", "created"), Sw, s("2011-05")),
            r#"meta.created sw "2011-05""#,
        ),
    ]);
}

#[test]
fn numbers_print_as_json() {
    let grade = AttrPath::in_extension(DEFAULT_EXTENSION_URN, "grade", None);
    let cases: &[(&str, &str)] = &[
        ("5", "5"),
        ("-7", "-7"),
        ("2.5", "2.5"),
        ("-1.5e3", "-1500.0"),
        ("1e-7", "1e-7"),
    ];
    for (literal, printed) in cases {
        let f = cmp(
            grade.clone(),
            Gt,
            CompValue::Number(literal.parse().unwrap()),
        );
        assert_eq!(
            f.to_string(),
            format!("{DEFAULT_EXTENSION_URN}:grade gt {printed}")
        );
    }
}

#[test]
fn unquoted_values_are_strings() {
    check_user(&[
        (
            "externalId eq jyoung",
            eq(p("externalId"), "jyoung"),
            r#"externalId eq "jyoung""#,
        ),
        (
            "userName eq alice@example.com",
            eq(p("userName"), "alice@example.com"),
            r#"userName eq "alice@example.com""#,
        ),
        (
            "(userName eq alice)",
            eq(p("userName"), "alice"),
            r#"userName eq "alice""#,
        ),
        (
            "emails[value eq a@b.c]",
            vp(p("emails"), eq(p("value"), "a@b.c")),
            r#"emails[value eq "a@b.c"]"#,
        ),
        ("title eq and", eq(p("title"), "and"), r#"title eq "and""#),
        (
            "userName eq 01",
            eq(p("userName"), "01"),
            r#"userName eq "01""#,
        ),
    ]);
}

#[test]
fn precedence_and_grouping() {
    let [a, b, c] = ["a", "b", "c"].map(|v| eq(p("title"), v));
    check_user(&[
        (
            r#"title eq "a" or title eq "b" and title eq "c""#,
            or(a.clone(), and(b.clone(), c.clone())),
            r#"title eq "a" or title eq "b" and title eq "c""#,
        ),
        (
            r#"title eq "a" and title eq "b" or title eq "c""#,
            or(and(a.clone(), b.clone()), c.clone()),
            r#"title eq "a" and title eq "b" or title eq "c""#,
        ),
        (
            r#"(title eq "a" or title eq "b") and title eq "c""#,
            and(or(a.clone(), b.clone()), c.clone()),
            r#"(title eq "a" or title eq "b") and title eq "c""#,
        ),
        (
            r#"title eq "a" and (title eq "b" or title eq "c")"#,
            and(a.clone(), or(b.clone(), c.clone())),
            r#"title eq "a" and (title eq "b" or title eq "c")"#,
        ),
        (
            r#"title eq "a" or title eq "b" or title eq "c""#,
            or(or(a.clone(), b.clone()), c.clone()),
            r#"title eq "a" or title eq "b" or title eq "c""#,
        ),
        (
            r#"title eq "a" or (title eq "b" or title eq "c")"#,
            or(a.clone(), or(b.clone(), c.clone())),
            r#"title eq "a" or (title eq "b" or title eq "c")"#,
        ),
        (
            r#"title eq "a" and (title eq "b" and title eq "c")"#,
            and(a.clone(), and(b.clone(), c.clone())),
            r#"title eq "a" and (title eq "b" and title eq "c")"#,
        ),
        (r#"((((title eq "a"))))"#, a.clone(), r#"title eq "a""#),
        (
            r#"not (title eq "a") and title eq "b""#,
            and(not(a.clone()), b.clone()),
            r#"not (title eq "a") and title eq "b""#,
        ),
        (
            r#"not (title eq "a" or title eq "b")"#,
            not(or(a.clone(), b.clone())),
            r#"not (title eq "a" or title eq "b")"#,
        ),
        // `not` binds tighter than `and`, with or without parentheses.
        (
            r#"not title eq "a" and title eq "b""#,
            and(not(a.clone()), b.clone()),
            r#"not (title eq "a") and title eq "b""#,
        ),
        (
            r#"not not title eq "a""#,
            not(not(a.clone())),
            r#"not (not (title eq "a"))"#,
        ),
        (
            r#"NOT(title eq "a")"#,
            not(a.clone()),
            r#"not (title eq "a")"#,
        ),
    ]);
}

#[test]
fn value_paths() {
    let work = eq(p("type"), "work");
    check_user(&[
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            vp(
                p("emails"),
                and(work.clone(), cmp(p("value"), Co, s("@example.com"))),
            ),
            r#"emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work"]"#,
            vp(p("emails"), work.clone()),
            r#"emails[type eq "work"]"#,
        ),
        (
            r#"emails[not (type eq "work") or primary eq true]"#,
            vp(
                p("emails"),
                or(
                    not(work.clone()),
                    cmp(p("primary"), Eq, CompValue::Bool(true)),
                ),
            ),
            r#"emails[not (type eq "work") or primary eq true]"#,
        ),
        (
            r#"addresses[type eq "work" and locality pr]"#,
            vp(p("addresses"), and(work.clone(), pr(p("locality")))),
            r#"addresses[type eq "work" and locality pr]"#,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager[value eq "m1"]"#),
            vp(ent("manager", None), eq(p("value"), "m1")),
            &format!(r#"{ENTERPRISE_URN}:manager[value eq "m1"]"#),
        ),
        // Entra ID's `attr[filter].sub op value`: some element has both.
        (
            r#"emails[type eq "work"].value eq "x@y.com""#,
            vp(p("emails"), and(work.clone(), eq(p("value"), "x@y.com"))),
            r#"emails[type eq "work" and value eq "x@y.com"]"#,
        ),
        (
            r#"phoneNumbers[type eq "mobile"].value pr"#,
            vp(
                p("phoneNumbers"),
                and(eq(p("type"), "mobile"), pr(p("value"))),
            ),
            r#"phoneNumbers[type eq "mobile" and value pr]"#,
        ),
        (
            r#"emails[type eq "work" or type eq "home"].Value co "@x""#,
            vp(
                p("emails"),
                and(
                    or(work.clone(), eq(p("type"), "home")),
                    cmp(p("value"), Co, s("@x")),
                ),
            ),
            r#"emails[(type eq "work" or type eq "home") and value co "@x"]"#,
        ),
        (
            r#"userName eq "u" and emails[type eq "work"].value eq "e""#,
            and(
                eq(p("userName"), "u"),
                vp(p("emails"), and(work.clone(), eq(p("value"), "e"))),
            ),
            r#"userName eq "u" and emails[type eq "work" and value eq "e"]"#,
        ),
    ]);
}

#[test]
fn value_filters_relative_to_a_parent() {
    let parse = |text: &str, kind, parent: AttrPath| {
        Filter::parse_value_filter(text, kind, &REGISTRY, &parent)
    };
    assert_eq!(
        parse(r#"type eq "work""#, ResourceKind::User, p("emails")),
        Ok(eq(p("type"), "work"))
    );
    assert_eq!(
        parse(
            r#"TYPE eq "mobile" and Value pr"#,
            ResourceKind::User,
            p("phoneNumbers")
        ),
        Ok(and(eq(p("type"), "mobile"), pr(p("value"))))
    );
    assert_eq!(
        parse(r#"value eq "2819c223""#, ResourceKind::Group, p("members")),
        Ok(eq(p("value"), "2819c223"))
    );
    assert_eq!(
        parse(r#"value eq "m""#, ResourceKind::User, ent("manager", None)),
        Ok(eq(p("value"), "m"))
    );
    let cases: &[(&str, ResourceKind, AttrPath, FilterError)] = &[
        (
            "value eq \"x\"",
            ResourceKind::User,
            p("userName"),
            FilterError::InvalidParent("userName".into()),
        ),
        (
            "value eq \"x\"",
            ResourceKind::User,
            ps("emails", "value"),
            FilterError::InvalidParent("emails.value".into()),
        ),
        (
            "value eq \"x\"",
            ResourceKind::Group,
            p("emails"),
            FilterError::InvalidParent("emails".into()),
        ),
        (
            "nope eq \"x\"",
            ResourceKind::User,
            p("emails"),
            FilterError::UnknownAttribute {
                column: 1,
                path: "emails.nope".into(),
            },
        ),
        (
            "emails.value eq \"x\"",
            ResourceKind::User,
            p("emails"),
            FilterError::UnknownAttribute {
                column: 1,
                path: "emails.emails.value".into(),
            },
        ),
        (
            "value eq \"x\"]",
            ResourceKind::User,
            p("emails"),
            FilterError::Syntax {
                column: 13,
                expected: "'and', 'or' or the end of the value filter",
                found: "']'".into(),
            },
        ),
    ];
    for (text, kind, parent, want) in cases {
        assert_eq!(
            &parse(text, *kind, parent.clone()),
            &Err(want.clone()),
            "{text}"
        );
    }
}

#[test]
fn urn_qualified_names() {
    check_user(&[
        (
            &format!(r#"{USER_URN}:userName eq "b""#),
            eq(p("userName"), "b"),
            r#"userName eq "b""#,
        ),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName co "x""#,
            cmp(ps("name", "familyName"), Co, s("x")),
            r#"name.familyName co "x""#,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "m""#),
            eq(ent("manager", Some("value")), "m"),
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "m""#),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT eq "d""#,
            eq(ent("department", None), "d"),
            &format!(r#"{ENTERPRISE_URN}:department eq "d""#),
        ),
        (
            &format!("{DEFAULT_EXTENSION_URN}:grade pr"),
            pr(AttrPath::in_extension(DEFAULT_EXTENSION_URN, "grade", None)),
            &format!("{DEFAULT_EXTENSION_URN}:grade pr"),
        ),
        // Without URN when exactly one extension defines the name.
        (
            r#"department eq "d""#,
            eq(ent("department", None), "d"),
            &format!(r#"{ENTERPRISE_URN}:department eq "d""#),
        ),
        (
            r#"manager.value eq "m""#,
            eq(ent("manager", Some("value")), "m"),
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "m""#),
        ),
    ]);
    // A URN names attributes of its own schema only.
    let text = format!(r#"{ENTERPRISE_URN}:userName eq "u""#);
    assert_eq!(
        user(&text),
        Err(FilterError::UnknownAttribute {
            column: 1,
            path: format!("{ENTERPRISE_URN}:userName"),
        })
    );
}

#[test]
fn case_insensitive_names_and_keywords() {
    let f = and(
        eq(ps("name", "givenName"), "B"),
        not(cmp(p("userName"), Sw, s("x"))),
    );
    for text in [
        r#"name.givenName eq "B" and not (userName sw "x")"#,
        r#"NAME.GIVENNAME EQ "B" AND NOT (USERNAME SW "x")"#,
        r#"Name.GivenName Eq "B" And Not (UserName Sw "x")"#,
    ] {
        assert_eq!(user(text), Ok(f.clone()), "{text}");
    }
    assert_eq!(
        user(r#"EMAILS[TYPE EQ "work"] OR EXTERNALID PR"#),
        Ok(or(
            vp(p("emails"), eq(p("type"), "work")),
            pr(p("externalId"))
        ))
    );
}

#[test]
fn whitespace() {
    let f = and(eq(p("userName"), "a b"), pr(p("title")));
    for text in [
        r#"userName eq "a b" and title pr"#,
        "  userName   eq\t\"a b\"\n and\r\ntitle  pr  ",
        "(userName eq\"a b\")and(title pr)",
        "\u{a0}userName eq \"a b\"\u{2003}and title pr",
    ] {
        assert_eq!(user(text), Ok(f.clone()), "{text:?}");
    }
    assert_eq!(
        user("emails[ type eq \"work\" ] .value eq x"),
        Ok(vp(
            p("emails"),
            and(eq(p("type"), "work"), eq(p("value"), "x"))
        ))
    );
}

/// RFC 7644 §3.4.2.2, every example; `schemas` is no attribute here.
#[test]
fn rfc_7644_examples() {
    let employee = eq(p("userType"), "Employee");
    let example = or(
        cmp(p("emails"), Co, s("example.com")),
        cmp(ps("emails", "value"), Co, s("example.org")),
    );
    let lm = |op| cmp(ps("meta", "lastModified"), op, s("2011-05-13T04:42:34Z"));
    check_user(&[
        (
            r#"userName eq "bjensen""#,
            eq(p("userName"), "bjensen"),
            r#"userName eq "bjensen""#,
        ),
        (
            r#"name.familyName co "O'Malley""#,
            cmp(ps("name", "familyName"), Co, s("O'Malley")),
            r#"name.familyName co "O'Malley""#,
        ),
        (
            r#"userName sw "J""#,
            cmp(p("userName"), Sw, s("J")),
            r#"userName sw "J""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(p("userName"), Sw, s("J")),
            r#"userName sw "J""#,
        ),
        ("title pr", pr(p("title")), "title pr"),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            lm(Gt),
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            lm(Ge),
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            lm(Lt),
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            lm(Le),
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(pr(p("title")), employee.clone()),
            r#"title pr and userType eq "Employee""#,
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(pr(p("title")), eq(p("userType"), "Intern")),
            r#"title pr or userType eq "Intern""#,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            and(employee.clone(), example.clone()),
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            and(cmp(p("userType"), Ne, s("Employee")), not(example.clone())),
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(employee.clone(), eq(ps("emails", "type"), "work")),
            r#"userType eq "Employee" and emails.type eq "work""#,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            and(
                employee.clone(),
                vp(
                    p("emails"),
                    and(
                        eq(p("type"), "work"),
                        cmp(p("value"), Co, s("@example.com")),
                    ),
                ),
            ),
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            or(
                vp(
                    p("emails"),
                    and(
                        eq(p("type"), "work"),
                        cmp(p("value"), Co, s("@example.com")),
                    ),
                ),
                vp(
                    p("ims"),
                    and(eq(p("type"), "xmpp"), cmp(p("value"), Co, s("@foo.com"))),
                ),
            ),
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
    ]);
    assert_eq!(
        user(r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#),
        Err(FilterError::UnknownAttribute {
            column: 1,
            path: "schemas".into()
        })
    );
}

/// Every filter of shared/idp-traffic.md.
#[test]
fn identity_provider_filters() {
    // Entra ID Test Connection, with a fresh GUID each time.
    let guid = "8b8c6f1e-2d4a-4c53-9a0e-3f7d2b1c9e44";
    let f = user(&format!(r#"userName eq "{guid}""#)).unwrap();
    assert_eq!(f, eq(p("userName"), guid));
    assert_eq!(
        f.index_term(ResourceKind::User),
        Some(IndexTerm::UserName(guid.into()))
    );
    assert!(!f.matches(&bjensen(), ResourceKind::User, &REGISTRY));
    // Entra ID matching.
    let f = user("externalId eq jyoung").unwrap();
    assert_eq!(f.to_string(), r#"externalId eq "jyoung""#);
    assert_eq!(
        f.index_term(ResourceKind::User),
        Some(IndexTerm::ExternalId("jyoung".into()))
    );
    let f = user(r#"emails[type eq "work"].value eq "jyoung@contoso.com""#).unwrap();
    assert_eq!(
        f.index_term(ResourceKind::User),
        Some(IndexTerm::EmailValue("jyoung@contoso.com".into()))
    );
    let f = group(r#"displayName eq "Sales Team""#).unwrap();
    assert_eq!(f, eq(p("displayName"), "Sales Team"));
    assert_eq!(
        f.index_term(ResourceKind::Group),
        Some(IndexTerm::DisplayName("Sales Team".into()))
    );
    // Entra ID matches userName case-insensitively, and so do Okta's tests.
    let f = user(r#"userName eq "BJENSEN@EXAMPLE.COM""#).unwrap();
    assert!(f.matches(&bjensen(), ResourceKind::User, &REGISTRY));
    // Okta existence check.
    let f = user(r#"userName eq "isaac.brock@example.com""#).unwrap();
    assert_eq!(
        f.index_term(ResourceKind::User),
        Some(IndexTerm::UserName("isaac.brock@example.com".into()))
    );
    // PATCH paths of both: the inside of `attr[...]`.
    for (text, kind, parent) in [
        (
            r#"value eq "2819c223-7f76-453a-919d-413861904646""#,
            ResourceKind::Group,
            "members",
        ),
        (r#"type eq "work""#, ResourceKind::User, "emails"),
        (r#"type eq "mobile""#, ResourceKind::User, "phoneNumbers"),
        (r#"type eq "work""#, ResourceKind::User, "addresses"),
    ] {
        let f = Filter::parse_value_filter(text, kind, &REGISTRY, &p(parent)).unwrap();
        assert_eq!(f.to_string(), text);
    }
}

#[test]
fn errors() {
    let syntax = |column, expected, found: &str| FilterError::Syntax {
        column,
        expected,
        found: found.into(),
    };
    let unknown = |column, path: &str| FilterError::UnknownAttribute {
        column,
        path: path.into(),
    };
    let invalid = |column, detail: &str| FilterError::Invalid {
        column,
        detail: detail.into(),
    };
    const OPERATOR: &str = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
    const ATOM: &str = "an attribute name, 'not' or '('";
    let cases: Vec<(&str, FilterError, &str)> = vec![
        ("", FilterError::Empty, "filter is empty"),
        (" \t ", FilterError::Empty, "filter is empty"),
        (
            "userName",
            syntax(9, OPERATOR, "the end of the filter"),
            "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) at column 9, found the end of the filter",
        ),
        (
            r#"userName is "x""#,
            syntax(10, OPERATOR, "'is'"),
            "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) at column 10, found 'is'",
        ),
        (
            r#"userName "x""#,
            syntax(10, OPERATOR, "string \"x\""),
            "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) at column 10, found string \"x\"",
        ),
        (
            "userName eq",
            syntax(
                12,
                "a value (string, number, true, false or null)",
                "the end of the filter",
            ),
            "expected a value (string, number, true, false or null) at column 12, found the end of the filter",
        ),
        (
            "userName eq )",
            syntax(13, "a value (string, number, true, false or null)", "')'"),
            "expected a value (string, number, true, false or null) at column 13, found ')'",
        ),
        (
            r#"userName eq "x" title pr"#,
            syntax(17, "'and', 'or' or the end of the filter", "'title'"),
            "expected 'and', 'or' or the end of the filter at column 17, found 'title'",
        ),
        (
            r#"userName eq "x" and"#,
            syntax(20, ATOM, "the end of the filter"),
            "expected an attribute name, 'not' or '(' at column 20, found the end of the filter",
        ),
        (
            r#"(userName eq "x""#,
            syntax(17, "'and', 'or' or ')'", "the end of the filter"),
            "expected 'and', 'or' or ')' at column 17, found the end of the filter",
        ),
        (
            r#"userName eq "x")"#,
            syntax(16, "'and', 'or' or the end of the filter", "')'"),
            "expected 'and', 'or' or the end of the filter at column 16, found ')'",
        ),
        (
            r#"emails[type eq "work""#,
            syntax(22, "'and', 'or' or ']'", "the end of the filter"),
            "expected 'and', 'or' or ']' at column 22, found the end of the filter",
        ),
        (
            "()",
            syntax(2, ATOM, "')'"),
            "expected an attribute name, 'not' or '(' at column 2, found ')'",
        ),
        (
            r#""x" eq userName"#,
            syntax(1, ATOM, "string \"x\""),
            "expected an attribute name, 'not' or '(' at column 1, found string \"x\"",
        ),
        (
            r#"1abc eq "x""#,
            syntax(1, ATOM, "'1abc'"),
            "expected an attribute name, 'not' or '(' at column 1, found '1abc'",
        ),
        (
            r#"not"#,
            syntax(4, ATOM, "the end of the filter"),
            "expected an attribute name, 'not' or '(' at column 4, found the end of the filter",
        ),
        (
            r#"émails eq "x""#,
            syntax(1, ATOM, "'émails'"),
            "expected an attribute name, 'not' or '(' at column 1, found 'émails'",
        ),
        (
            r#"userName eq "x"#,
            FilterError::InvalidString {
                column: 13,
                reason: "missing closing quote",
            },
            "invalid string literal at column 13: missing closing quote",
        ),
        (
            r#"userName eq "\x""#,
            FilterError::InvalidString {
                column: 14,
                reason: "unknown escape (use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)",
            },
            r#"invalid string literal at column 14: unknown escape (use \", \\, \/, \b, \f, \n, \r, \t or \uXXXX)"#,
        ),
        (
            r#"nope eq "x""#,
            unknown(1, "nope"),
            "unknown attribute 'nope' at column 1",
        ),
        (
            r#"title pr and name.nope eq "x""#,
            unknown(14, "name.nope"),
            "unknown attribute 'name.nope' at column 14",
        ),
        (
            r#"urn:x:y:attr eq "x""#,
            unknown(1, "urn:x:y:attr"),
            "unknown attribute 'urn:x:y:attr' at column 1",
        ),
        (
            r#"emails[nope eq "x"]"#,
            unknown(8, "emails.nope"),
            "unknown attribute 'emails.nope' at column 8",
        ),
        (
            r#"emails[type eq "work"].nope eq "x""#,
            unknown(23, "emails.nope"),
            "unknown attribute 'emails.nope' at column 23",
        ),
        (
            r#"and eq "x""#,
            unknown(1, "and"),
            "unknown attribute 'and' at column 1",
        ),
        (
            r#"members[value eq "x"]"#,
            unknown(1, "members"),
            "unknown attribute 'members' at column 1",
        ),
        (
            "active gt true",
            invalid(11, "'gt' cannot order the boolean attribute 'active'"),
            "'gt' cannot order the boolean attribute 'active' at column 11",
        ),
        (
            r#"emails le "a""#,
            invalid(11, "'le' cannot order the complex attribute 'emails'"),
            "'le' cannot order the complex attribute 'emails' at column 11",
        ),
        (
            r#"x509Certificates.value lt "a""#,
            invalid(
                27,
                "'lt' cannot order the binary attribute 'x509Certificates.value'",
            ),
            "'lt' cannot order the binary attribute 'x509Certificates.value' at column 27",
        ),
        (
            r#"emails[primary ge true]"#,
            invalid(
                19,
                "'ge' cannot order the boolean attribute 'emails.primary'",
            ),
            "'ge' cannot order the boolean attribute 'emails.primary' at column 19",
        ),
        (
            r#"name eq "x""#,
            invalid(
                9,
                "the complex attribute 'name' has no value; compare one of its sub-attributes",
            ),
            "the complex attribute 'name' has no value; compare one of its sub-attributes at column 9",
        ),
        (
            r#"active co "t""#,
            invalid(11, "'co' needs a string attribute; 'active' is boolean"),
            "'co' needs a string attribute; 'active' is boolean at column 11",
        ),
        (
            r#"active eq "yes""#,
            invalid(
                11,
                "'active' is boolean and compares with true or false, not \"yes\"",
            ),
            "'active' is boolean and compares with true or false, not \"yes\" at column 11",
        ),
        (
            "active eq 1",
            invalid(
                11,
                "'active' is boolean and compares with true or false, not 1",
            ),
            "'active' is boolean and compares with true or false, not 1 at column 11",
        ),
        (
            "active eq yes",
            invalid(
                11,
                "'active' is boolean and compares with true or false, not yes",
            ),
            "'active' is boolean and compares with true or false, not yes at column 11",
        ),
        (
            "title eq true",
            invalid(10, "'title' is string and compares with a string, not true"),
            "'title' is string and compares with a string, not true at column 10",
        ),
        (
            "meta.created eq false",
            invalid(
                17,
                "'meta.created' is dateTime and compares with a date and time string, not false",
            ),
            "'meta.created' is dateTime and compares with a date and time string, not false at column 17",
        ),
        (
            r#"meta.lastModified gt "yesterday""#,
            invalid(
                22,
                "'meta.lastModified' is a dateTime and \"yesterday\" is not an RFC 3339 date and time such as \"2011-05-13T04:42:34Z\"",
            ),
            "'meta.lastModified' is a dateTime and \"yesterday\" is not an RFC 3339 date and time such as \"2011-05-13T04:42:34Z\" at column 22",
        ),
        (
            r#"meta.lastModified eq "2011-05-13""#,
            invalid(
                22,
                "'meta.lastModified' is a dateTime and \"2011-05-13\" is not an RFC 3339 date and time such as \"2011-05-13T04:42:34Z\"",
            ),
            "'meta.lastModified' is a dateTime and \"2011-05-13\" is not an RFC 3339 date and time such as \"2011-05-13T04:42:34Z\" at column 22",
        ),
        (
            "title gt null",
            invalid(10, "null can only be compared with 'eq' or 'ne', not 'gt'"),
            "null can only be compared with 'eq' or 'ne', not 'gt' at column 10",
        ),
        (
            r#"userName[value eq "x"]"#,
            invalid(
                9,
                "'userName' is not a complex attribute and takes no value filter",
            ),
            "'userName' is not a complex attribute and takes no value filter at column 9",
        ),
        (
            r#"emails.value[value eq "x"]"#,
            invalid(
                13,
                "'emails.value' is not a complex attribute and takes no value filter",
            ),
            "'emails.value' is not a complex attribute and takes no value filter at column 13",
        ),
        (
            r#"emails[type[value eq "x"]]"#,
            invalid(12, "value filters cannot be nested"),
            "value filters cannot be nested at column 12",
        ),
    ];
    for (text, want, message) in &cases {
        let got = user(text);
        assert_eq!(got.as_ref(), Err(want), "{text}");
        assert_eq!(want.to_string(), *message, "{text}");
    }
}

#[test]
fn limits() {
    let term = r#"userName eq "x""#;
    // Length.
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN - 14));
    assert_eq!(long.len(), MAX_FILTER_LEN);
    assert!(user(&long).is_ok());
    let too_long = format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN - 13));
    let err = user(&too_long).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 4097 });
    assert_eq!(
        err.to_string(),
        "filter is 4097 bytes long; at most 4096 are allowed"
    );
    // Depth, with parentheses, `not` and brackets.
    let nested = |n: usize| format!("{}{term}{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(user(&nested(MAX_DEPTH)), Ok(eq(p("userName"), "x")));
    let err = user(&nested(MAX_DEPTH + 1)).unwrap_err();
    assert_eq!(err, FilterError::TooDeep { column: 33 });
    assert_eq!(
        err.to_string(),
        "filter nests deeper than 32 levels at column 33"
    );
    let nots = |n: usize| format!("{}{term}", "not ".repeat(n));
    assert!(user(&nots(MAX_DEPTH)).is_ok());
    assert_eq!(
        user(&nots(MAX_DEPTH + 1)),
        Err(FilterError::TooDeep { column: 129 })
    );
    let not_parens = |n: usize| format!("{}{term}{}", "not (".repeat(n), ")".repeat(n));
    assert!(user(&not_parens(MAX_DEPTH)).is_ok());
    assert_eq!(
        user(&not_parens(MAX_DEPTH + 1)),
        Err(FilterError::TooDeep { column: 165 })
    );
    let in_brackets = format!(
        "{}emails[{}type eq \"w\"{}]{}",
        "(".repeat(31),
        "(",
        ")",
        ")".repeat(31)
    );
    assert_eq!(user(&in_brackets), Err(FilterError::TooDeep { column: 39 }));
    // The desugared Entra form prints one level deeper when it holds an `or`.
    let entra = |n: usize| {
        format!(
            "{}emails[type eq \"a\" or type eq \"b\"].value pr{}",
            "(".repeat(n),
            ")".repeat(n)
        )
    };
    assert!(user(&entra(30)).is_ok());
    assert_eq!(user(&entra(31)), Err(FilterError::TooDeep { column: 38 }));
    // Hostile depth fails cleanly instead of overflowing the stack.
    for hostile in [
        nested(100_000),
        nots(10_000),
        "not (".repeat(50_000),
        "[".repeat(4000),
    ] {
        assert!(user(&hostile[..hostile.len().min(MAX_FILTER_LEN)]).is_err());
    }
    // Terms.
    let terms = |n: usize| vec![term; n].join(" and ");
    assert!(user(&terms(MAX_TERMS)).is_ok());
    let err = user(&terms(MAX_TERMS + 1)).unwrap_err();
    assert_eq!(err, FilterError::TooManyTerms { column: 1281 });
    assert_eq!(
        err.to_string(),
        "filter has more than 64 comparisons at column 1281"
    );
    let presents = vec!["title pr"; MAX_TERMS + 1].join(" or ");
    assert!(matches!(
        user(&presents),
        Err(FilterError::TooManyTerms { .. })
    ));
    let entra = vec![r#"emails[type eq "w"].value eq "x""#; MAX_TERMS / 2 + 1].join(" or ");
    assert!(matches!(
        user(&entra),
        Err(FilterError::TooManyTerms { .. })
    ));
}

#[test]
fn filter_errors_are_invalid_filter_responses() {
    let e: ScimError = user("nope pr").unwrap_err().into();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    assert_eq!(e.detail, "unknown attribute 'nope' at column 1");
}

/// RFC 7643 §8.2's Barbara Jensen, with the enterprise extension, a second
/// email, and empty values for `pr`.
fn bjensen() -> Value {
    json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen-EXT",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "O'Malley",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": "Tour Guide",
        "userType": "Employee",
        "locale": null,
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "ims": [],
        "photos": [{}],
        "addresses": [{"type": "work", "locality": "Hollywood", "primary": true}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T05:56:22+01:00",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        },
        ENTERPRISE_URN: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        },
        DEFAULT_EXTENSION_URN: {"grade": "A3"}
    })
}

#[test]
fn evaluates_against_a_user() {
    let cases: &[(&str, bool)] = &[
        // Case-insensitive strings...
        (r#"userName eq "BJensen@Example.com""#, true),
        (r#"userName eq "bjensen""#, false),
        (r#"userName sw "BJ""#, true),
        (r#"userName ew "@EXAMPLE.COM""#, true),
        (r#"name.familyName co "o'mal""#, true),
        (r#"displayName co "babs jensen ""#, false),
        // ...unless caseExact.
        (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (r#"externalId eq "bjensen-EXT""#, true),
        (r#"externalId eq "bjensen-ext""#, false),
        (r#"externalId sw "BJENSEN""#, false),
        (r#"meta.resourceType eq "user""#, false),
        (r#"meta.resourceType eq "User""#, true),
        // Strings order lexicographically after case folding.
        (r#"title gt "Tour""#, true),
        (r#"title gt "TOUR GUIDE""#, false),
        (r#"title ge "TOUR GUIDE""#, true),
        (r#"title lt "tour guidf""#, true),
        (r#"title le "A""#, false),
        // dateTimes compare as instants, whatever the offsets.
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
        (r#"meta.lastModified gt "2011-05-13T06:42:34+02:00""#, false),
        (r#"meta.lastModified lt "2011-05-13T00:42:35-04:00""#, true),
        (r#"meta.lastModified le "2011-05-13T00:42:33-04:00""#, false),
        (r#"meta.lastModified ne "2011-05-13T04:42:34Z""#, false),
        (r#"meta.created eq "2010-01-23T04:56:22Z""#, true),
        (r#"meta.created lt "2010-01-23T05:00:00Z""#, true),
        (r#"meta.lastModified sw "2011-05""#, true),
        // Booleans.
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        (r#"active eq "TRUE""#, true),
        ("emails.primary eq true", true),
        // Multi-valued: any element.
        (r#"emails.type eq "home""#, true),
        (r#"emails.value ew "JENSEN.ORG""#, true),
        (r#"emails co "@example.com""#, true),
        (r#"emails eq "BABS@JENSEN.ORG""#, true),
        (r#"emails.type eq "other""#, false),
        (r#"phoneNumbers.value sw "555""#, true),
        // `ne` negates `eq`: no element may equal.
        (r#"emails.type ne "work""#, false),
        (r#"emails.type ne "other""#, true),
        // Value paths: one element must satisfy the whole filter.
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (
            r#"emails.type eq "home" and emails.value co "@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "home"].value eq "bjensen@example.com""#,
            false,
        ),
        (r#"emails[not (type eq "work")]"#, true),
        (r#"emails[primary eq true and type eq "home"]"#, false),
        (r#"addresses[type eq "work" and locality pr]"#, true),
        (r#"ims[type eq "xmpp"]"#, false),
        // Presence.
        ("title pr", true),
        ("name pr", true),
        ("emails pr", true),
        ("emails.primary pr", true),
        ("nickName pr", false),
        ("locale pr", false),
        ("timezone pr", false),
        ("ims pr", false),
        ("photos pr", false),
        ("name.middleName pr", false),
        (r#"not (title pr)"#, false),
        // Absent attributes: only `ne` holds.
        (r#"timezone eq "x""#, false),
        (r#"timezone ne "x""#, true),
        (r#"timezone gt "a""#, false),
        (r#"timezone co "a""#, false),
        (r#"not (timezone eq "x")"#, true),
        (r#"name.middleName ne "x""#, true),
        // `eq null` is "not present".
        ("timezone eq null", true),
        ("locale eq null", true),
        ("nickName eq null", true),
        ("title eq null", false),
        ("title ne null", true),
        ("ims ne null", false),
        // Extensions.
        (
            &format!(r#"{ENTERPRISE_URN}:department eq "tour operations""#),
            true,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            true,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            true,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager[value sw "26118915"]"#),
            true,
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager.displayName eq "JOHN SMITH""#),
            true,
        ),
        (&format!(r#"{ENTERPRISE_URN}:costCenter pr"#), false),
        (r#"employeeNumber eq 701984"#, true),
        (&format!(r#"{DEFAULT_EXTENSION_URN}:grade eq "a3""#), true),
        // RFC 7644 examples.
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (r#"title pr or userType eq "Intern""#, true),
        (r#"title pr and userType eq "Intern""#, false),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];
    let resource = bjensen();
    for (text, want) in cases {
        let f = user(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            f.matches(&resource, ResourceKind::User, &REGISTRY),
            *want,
            "{text}"
        );
    }
}

#[test]
fn evaluates_against_a_group() {
    let resource = json!({
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
        ]
    });
    let cases: &[(&str, bool)] = &[
        (r#"displayName eq "tour guides""#, true),
        (
            r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"]"#,
            true,
        ),
        (
            r#"members.value eq "902C246B-6245-4190-8E05-00816BE7344A""#,
            false,
        ),
        (r#"members[display co "mandy" and type eq "user"]"#, false),
        (r#"members[display co "babs" and type eq "user"]"#, true),
        (r#"members eq "2819c223-7f76-453a-919d-413861904646""#, true),
    ];
    for (text, want) in cases {
        let f = group(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            f.matches(&resource, ResourceKind::Group, &REGISTRY),
            *want,
            "{text}"
        );
    }
}

/// The default schemas have no numeric attribute, so numbers are checked on
/// hand-built filters over numeric JSON.
#[test]
fn numbers_compare_numerically() {
    let grade = AttrPath::in_extension(DEFAULT_EXTENSION_URN, "grade", None);
    let resource = |n: Value| json!({ DEFAULT_EXTENSION_URN: { "grade": n } });
    let n = |text: &str| CompValue::Number(text.parse().unwrap());
    let cases: &[(Value, CompareOp, &str, bool)] = &[
        (json!(5), Gt, "3", true),
        (json!(5), Lt, "3", false),
        (json!(5), Eq, "5.0", true),
        (json!(5), Ge, "5", true),
        (json!(5), Lt, "10.5", true),
        (json!(-1), Lt, "18446744073709551615", true),
        (
            json!(18446744073709551615u64),
            Gt,
            "18446744073709551614",
            true,
        ),
        (json!(1000), Eq, "1e3", true),
        (json!(0.1), Le, "0.1", true),
        (json!(-2.5), Gt, "-3", true),
        (json!(5), Ne, "5", false),
        (json!(5), Ne, "6", true),
        (json!(5), Co, "5", false),
        (json!("5"), Eq, "5", false),
        (json!([1, 7]), Gt, "6", true),
    ];
    for (value, op, literal, want) in cases {
        let f = cmp(grade.clone(), *op, n(literal));
        assert_eq!(
            f.matches(&resource(value.clone()), ResourceKind::User, &REGISTRY),
            *want,
            "{value} {op} {literal}"
        );
    }
}

#[test]
fn evaluates_elements() {
    let emails = p("emails");
    let parse = |text: &str| {
        Filter::parse_value_filter(text, ResourceKind::User, &REGISTRY, &emails).unwrap()
    };
    let work = json!({"value": "b@example.com", "type": "work", "primary": true});
    let cases: &[(&str, bool)] = &[
        (r#"type eq "WORK""#, true),
        (r#"type eq "home""#, false),
        (r#"value ew "@EXAMPLE.com" and primary eq true"#, true),
        ("display pr", false),
        (r#"not (type eq "home")"#, true),
    ];
    for (text, want) in cases {
        assert_eq!(
            parse(text).matches_element(&work, &emails, ResourceKind::User, &REGISTRY),
            *want,
            "{text}"
        );
    }
    let f = parse("type pr");
    assert!(!f.matches_element(&work, &p("userName"), ResourceKind::User, &REGISTRY));
    assert!(!f.matches_element(&work, &p("nope"), ResourceKind::User, &REGISTRY));
    assert!(!f.matches_element(&json!("x"), &emails, ResourceKind::User, &REGISTRY));
    let member = Filter::parse_value_filter(
        r#"value eq "id-1""#,
        ResourceKind::Group,
        &REGISTRY,
        &p("members"),
    )
    .unwrap();
    let members = p("members");
    assert!(member.matches_element(
        &json!({"value": "id-1"}),
        &members,
        ResourceKind::Group,
        &REGISTRY
    ));
    assert!(!member.matches_element(
        &json!({"value": "ID-1"}),
        &members,
        ResourceKind::Group,
        &REGISTRY
    ));
}

#[test]
fn odd_json_never_matches_nor_panics() {
    let filters: Vec<Filter> = [
        r#"userName eq "x""#,
        r#"emails[type eq "work"]"#,
        r#"emails.value co "x""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        &format!(r#"{ENTERPRISE_URN}:manager.value eq "m""#),
        "active eq true",
    ]
    .iter()
    .map(|t| user(t).unwrap())
    .collect();
    for resource in [
        json!(null),
        json!([1, 2]),
        json!("userName"),
        json!({"userName": 5, "emails": "x", "meta": 3, "active": "true", ENTERPRISE_URN: []}),
        json!({"userName": ["x"], "emails": [[{"type": "work"}], null, 1], "meta": {"lastModified": "garbage"}}),
        json!({"emails": {"type": "work", "value": "x"}, ENTERPRISE_URN: {"manager": "m"}}),
    ] {
        let got: Vec<bool> = filters
            .iter()
            .map(|f| f.matches(&resource, ResourceKind::User, &REGISTRY))
            .collect();
        // A lone object stands for a one-element array, and a scalar
        // userName in an array is one of its values.
        let want = if resource["emails"].is_object() {
            vec![false, true, true, false, false, false]
        } else if resource["userName"].is_array() {
            vec![true, false, false, false, false, false]
        } else {
            vec![false; filters.len()]
        };
        assert_eq!(got, want, "{resource}");
    }
}

#[test]
fn index_terms() {
    use IndexTerm::*;
    let user_cases: &[(&str, Option<IndexTerm>)] = &[
        (r#"id eq "i""#, Some(Id("i".into()))),
        (r#"userName eq "u""#, Some(UserName("u".into()))),
        (r#"USERNAME eq "U""#, Some(UserName("U".into()))),
        ("externalId eq e", Some(ExternalId("e".into()))),
        (r#"emails.value eq "e@x""#, Some(EmailValue("e@x".into()))),
        (r#"emails eq "e@x""#, Some(EmailValue("e@x".into()))),
        (r#"emails[value eq "e@x"]"#, Some(EmailValue("e@x".into()))),
        (
            r#"emails[type eq "work"].value eq "e@x""#,
            Some(EmailValue("e@x".into())),
        ),
        (
            r#"emails[type eq "work" and value eq "e@x"]"#,
            Some(EmailValue("e@x".into())),
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "m""#),
            Some(ManagerValue("m".into())),
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager[value eq "m"]"#),
            Some(ManagerValue("m".into())),
        ),
        (r#"manager.value eq "m""#, Some(ManagerValue("m".into()))),
        (r#"userName eq "u" and id eq "i""#, Some(Id("i".into()))),
        (
            r#"title pr and externalId eq "e""#,
            Some(ExternalId("e".into())),
        ),
        (
            r#"emails.value eq "e" and externalId eq "x""#,
            Some(ExternalId("x".into())),
        ),
        (
            r#"emails.value eq "e" and userName eq "u" and title pr"#,
            Some(UserName("u".into())),
        ),
        (
            &format!(r#"{ENTERPRISE_URN}:manager.value eq "m" and emails[value eq "e"]"#),
            Some(EmailValue("e".into())),
        ),
        (
            r#"userName eq "a" and userName eq "b""#,
            Some(UserName("a".into())),
        ),
        (r#"displayName eq "d""#, None),
        (r#"userName ne "u""#, None),
        (r#"userName co "u""#, None),
        (r#"userName sw "u""#, None),
        ("userName eq null", None),
        ("userName pr", None),
        (r#"userName eq "a" or id eq "b""#, None),
        (r#"not (id eq "i")"#, None),
        (r#"emails[type eq "work"]"#, None),
        (r#"emails[value eq "a" or value eq "b"]"#, None),
        (r#"emails.type eq "work""#, None),
        (r#"phoneNumbers.value eq "1""#, None),
        ("active eq true", None),
        (&format!(r#"{ENTERPRISE_URN}:department eq "d""#), None),
    ];
    for (text, want) in user_cases {
        assert_eq!(
            &user(text).unwrap().index_term(ResourceKind::User),
            want,
            "{text}"
        );
    }
    let group_cases: &[(&str, Option<IndexTerm>)] = &[
        (r#"id eq "i""#, Some(Id("i".into()))),
        (
            r#"displayName eq "Sales""#,
            Some(DisplayName("Sales".into())),
        ),
        (r#"externalId eq "e""#, Some(ExternalId("e".into()))),
        (r#"members[value eq "m"]"#, Some(MemberValue("m".into()))),
        (r#"members.value eq "m""#, Some(MemberValue("m".into()))),
        (r#"members eq "m""#, Some(MemberValue("m".into()))),
        (
            r#"displayName eq "g" and members[value eq "m"]"#,
            Some(DisplayName("g".into())),
        ),
        (
            r#"members.value eq "m" and externalId eq "e""#,
            Some(ExternalId("e".into())),
        ),
        (r#"members[type eq "User"]"#, None),
        (r#"displayName sw "S""#, None),
    ];
    for (text, want) in group_cases {
        assert_eq!(
            &group(text).unwrap().index_term(ResourceKind::Group),
            want,
            "{text}"
        );
    }
    assert_eq!(UserName("u".into()).value(), "u");
    assert_eq!(ManagerValue("m".into()).value(), "m");
}

// ---- Property tests ----

/// How an attribute may be compared, which decides the generated literals.
#[derive(Debug, Clone, Copy)]
enum Class {
    /// String or reference: every operator.
    Str,
    /// Complex with a `value`: no ordering.
    ComplexValue,
    Bool,
    Date,
    /// Binary: no ordering.
    Binary,
    /// Complex without `value`: only `pr`, `eq null` and `ne null`.
    Complex,
}

fn user_attributes() -> Vec<(AttrPath, Class)> {
    let extension = |name: &str| format!("{ENTERPRISE_URN}:{name}");
    [
        ("userName", Class::Str),
        ("name.givenName", Class::Str),
        ("displayName", Class::Str),
        ("title", Class::Str),
        ("id", Class::Str),
        ("externalId", Class::Str),
        ("profileUrl", Class::Str),
        ("emails.value", Class::Str),
        ("emails.type", Class::Str),
        ("groups.display", Class::Str),
        ("meta.version", Class::Str),
        ("emails", Class::ComplexValue),
        ("phoneNumbers", Class::ComplexValue),
        ("active", Class::Bool),
        ("emails.primary", Class::Bool),
        ("meta.lastModified", Class::Date),
        ("meta.created", Class::Date),
        ("x509Certificates.value", Class::Binary),
        (&extension("department"), Class::Str),
        (&extension("manager.value"), Class::Str),
        (&extension("manager"), Class::ComplexValue),
        (&format!("{DEFAULT_EXTENSION_URN}:grade"), Class::Str),
        ("name", Class::Complex),
        ("meta", Class::Complex),
    ]
    .into_iter()
    .map(|(text, class)| {
        (
            AttrPath::parse(text, ResourceKind::User, &REGISTRY).unwrap(),
            class,
        )
    })
    .collect()
}

/// Complex attributes and the sub-attributes their value filters use.
fn value_path_parents() -> Vec<(AttrPath, Vec<(AttrPath, Class)>)> {
    let subs = |names: &[(&str, Class)]| names.iter().map(|(n, c)| (p(n), *c)).collect::<Vec<_>>();
    vec![
        (
            p("emails"),
            subs(&[
                ("type", Class::Str),
                ("value", Class::Str),
                ("primary", Class::Bool),
                ("display", Class::Str),
            ]),
        ),
        (
            p("addresses"),
            subs(&[
                ("type", Class::Str),
                ("locality", Class::Str),
                ("primary", Class::Bool),
            ]),
        ),
        (
            p("x509Certificates"),
            subs(&[("value", Class::Binary), ("type", Class::Str)]),
        ),
        (
            ent("manager", None),
            subs(&[("value", Class::Str), ("displayName", Class::Str)]),
        ),
    ]
}

fn rfc3339() -> impl Strategy<Value = String> {
    (
        1970u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::sample::select(vec!["Z", "+02:00", "-05:30", ".5Z", ".123456789+14:00"]),
    )
        .prop_map(|(y, mo, d, h, mi, s, tail)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{tail}")
        })
}

/// Comparisons that the parser accepts on `path`, with any string.
fn leaf(path: AttrPath, class: Class) -> BoxedStrategy<Filter> {
    let ops = |ops: &[CompareOp]| prop::sample::select(ops.to_vec());
    let present = Just(pr(path.clone()));
    let null = ops(&[Eq, Ne]).prop_map({
        let path = path.clone();
        move |op| cmp(path.clone(), op, CompValue::Null)
    });
    let with = move |op, value| cmp(path.clone(), op, value);
    let compare = match class {
        Class::Complex => return prop_oneof![present, null].boxed(),
        Class::Str => (ops(&CompareOp::ALL), any::<String>())
            .prop_map(move |(op, v)| with(op, CompValue::Str(v)))
            .boxed(),
        Class::ComplexValue | Class::Binary => (ops(&[Eq, Ne, Co, Sw, Ew]), any::<String>())
            .prop_map(move |(op, v)| with(op, CompValue::Str(v)))
            .boxed(),
        Class::Bool => (ops(&[Eq, Ne]), any::<bool>())
            .prop_map(move |(op, v)| with(op, CompValue::Bool(v)))
            .boxed(),
        Class::Date => prop_oneof![
            (ops(&[Eq, Ne, Gt, Ge, Lt, Le]), rfc3339()),
            (ops(&[Co, Sw, Ew]), any::<String>()),
        ]
        .prop_map(move |(op, v)| with(op, CompValue::Str(v)))
        .boxed(),
    };
    prop_oneof![1 => present, 1 => null, 4 => compare].boxed()
}

fn tree(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 1 << depth, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(not),
        ]
    })
    .boxed()
}

/// Random user filters over real attribute paths: at most 8 leaves of which
/// value paths hold at most 4 comparisons, so within [`MAX_TERMS`].
fn user_filter() -> BoxedStrategy<Filter> {
    let leaves: Vec<BoxedStrategy<Filter>> = user_attributes()
        .into_iter()
        .map(|(path, class)| leaf(path, class))
        .collect();
    let value_paths: Vec<BoxedStrategy<Filter>> = value_path_parents()
        .into_iter()
        .map(|(parent, subs)| {
            let inner: Vec<_> = subs
                .into_iter()
                .map(|(path, class)| leaf(path, class))
                .collect();
            tree(prop::strategy::Union::new(inner).boxed(), 2)
                .prop_map(move |f| vp(parent.clone(), f))
                .boxed()
        })
        .collect();
    let atoms = prop_oneof![
        3 => prop::strategy::Union::new(leaves),
        1 => prop::strategy::Union::new(value_paths),
    ];
    tree(atoms.boxed(), 3)
}

/// Fragments that real filters are made of, for token soup.
const FRAGMENTS: &[&str] = &[
    "userName",
    "USERNAME",
    "emails",
    "emails.value",
    ".value",
    ".type",
    "type",
    "value",
    "primary",
    "active",
    "title",
    "name",
    "name.givenName",
    "meta.lastModified",
    "members",
    "displayName",
    "externalId",
    "id",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:",
    ":",
    ".",
    "[",
    "]",
    "(",
    ")",
    "not",
    "and",
    "or",
    "NOT",
    "And",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "\"x\"",
    "\"\"",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\"",
    "\\",
    "\"\\\"\"",
    "true",
    "false",
    "null",
    "\"True\"",
    "0",
    "-1.5e3",
    "1e999",
    "01",
    "jyoung",
    "a@b.c",
    "\"2011-05-13T04:42:34Z\"",
    "\"2011-05-13\"",
    " ",
    "\t",
    "é",
    "\u{0}",
];

fn token_soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40),
        any::<bool>(),
    )
        .prop_map(|(parts, spaced)| parts.join(if spaced { " " } else { "" }))
}

/// Parsing either fails or yields a filter that prints and parses back to
/// itself and evaluates without panicking.
fn check_parse(text: &str) -> Result<(), TestCaseError> {
    let resource = bjensen();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if let Ok(f) = Filter::parse(text, kind, &REGISTRY) {
            let printed = f.to_string();
            if printed.len() <= MAX_FILTER_LEN {
                prop_assert_eq!(
                    Filter::parse(&printed, kind, &REGISTRY),
                    Ok(f.clone()),
                    "{}",
                    printed
                );
            }
            f.matches(&resource, kind, &REGISTRY);
            f.index_term(kind);
        }
    }
    Ok(())
}

/// JSON shaped somewhat like a user, to reach deep into the evaluator.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "userName",
        "emails",
        "value",
        "type",
        "primary",
        "meta",
        "lastModified",
        "active",
        "name",
        "givenName",
        "title",
        "manager",
        ENTERPRISE_URN,
        "id",
    ]);
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec!["", "x", "X", "work", "2011-05-13T04:42:34Z", "true"])
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    scalar.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kvs| Value::Object(
                kvs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_filters_parse_back(f in user_filter()) {
        let printed = f.to_string();
        prop_assume!(printed.len() <= MAX_FILTER_LEN);
        prop_assert_eq!(user(&printed), Ok(f), "{}", printed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_parse(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check_parse(&text)?;
    }

    #[test]
    fn entra_test_connection_finds_nobody(guid in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}") {
        let f = user(&format!(r#"userName eq "{guid}""#)).unwrap();
        prop_assert_eq!(f.index_term(ResourceKind::User), Some(IndexTerm::UserName(guid)));
        prop_assert!(!f.matches(&bjensen(), ResourceKind::User, &REGISTRY));
    }

    #[test]
    fn evaluation_is_total_and_consistent(resource in json_value(), f in user_filter()) {
        let kind = ResourceKind::User;
        let got = f.matches(&resource, kind, &REGISTRY);
        prop_assert_eq!(not(f.clone()).matches(&resource, kind, &REGISTRY), !got);
        match f {
            Filter::Compare { path, op: Eq, value } => {
                let ne = cmp(path, Ne, value);
                prop_assert_eq!(ne.matches(&resource, kind, &REGISTRY), !got);
            }
            Filter::Present(path) => {
                let eq_null = cmp(path, Eq, CompValue::Null);
                prop_assert_eq!(eq_null.matches(&resource, kind, &REGISTRY), !got);
            }
            _ => {}
        }
    }
}

#[test]
fn mentions_finds_an_attribute_anywhere() {
    let cases = [
        (r#"members[value eq "u1"]"#, true),
        (r#"members.value eq "u1""#, true),
        (r#"displayName eq "x" and not (members pr)"#, true),
        (r#"displayName eq "x" or externalId eq "y""#, false),
        (r#"displayName co "members""#, false),
    ];
    for (text, want) in cases {
        assert_eq!(group(text).unwrap().mentions("members"), want, "{text}");
    }
}
