//! `template.yaml` declares the same table the code creates, and every
//! binary the template builds exists.

use std::collections::BTreeMap;

use scim_serverless::store::dynamo::table::{INDEXES, TABLE_KEY};
use serde_yaml_ng::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(format!("{}/template.yaml", env!("CARGO_MANIFEST_DIR")))
        .expect("template.yaml");
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

fn key_pair(schema: &Value) -> (String, String) {
    let mut hash = String::new();
    let mut range = String::new();
    for element in schema.as_sequence().expect("KeySchema list") {
        let name = element["AttributeName"].as_str().unwrap().to_owned();
        match element["KeyType"].as_str().unwrap() {
            "HASH" => hash = name,
            "RANGE" => range = name,
            other => panic!("unexpected key type {other}"),
        }
    }
    (hash, range)
}

#[test]
fn table_keys_and_indexes_match_the_code() {
    let t = template();
    let table = &t["Resources"]["ScimTable"]["Properties"];
    assert_eq!(t["Resources"]["ScimTable"]["Type"], "AWS::DynamoDB::Table");
    assert_eq!(
        key_pair(&table["KeySchema"]),
        (TABLE_KEY.0.to_owned(), TABLE_KEY.1.to_owned())
    );
    let declared: BTreeMap<String, (String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|gsi| {
            assert_eq!(gsi["Projection"]["ProjectionType"], "ALL");
            (
                gsi["IndexName"].as_str().unwrap().to_owned(),
                key_pair(&gsi["KeySchema"]),
            )
        })
        .collect();
    let code: BTreeMap<String, (String, String)> = INDEXES
        .iter()
        .map(|(name, (h, r))| ((*name).to_owned(), ((*h).to_owned(), (*r).to_owned())))
        .collect();
    assert_eq!(declared, code);
    for attribute in table["AttributeDefinitions"].as_sequence().unwrap() {
        assert_eq!(attribute["AttributeType"], "S");
    }
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(t["Resources"]["ScimTable"]["DeletionPolicy"], "Retain");
}

#[test]
fn every_function_builds_an_existing_binary() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let mut binaries = Vec::new();
    for (_, resource) in resources {
        if resource["Type"] == "AWS::Serverless::Function" {
            assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
            let bin = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned();
            let source = format!("{}/src/bin/{bin}.rs", env!("CARGO_MANIFEST_DIR"));
            assert!(std::path::Path::new(&source).exists(), "{source}");
            binaries.push(bin);
        }
    }
    binaries.sort();
    assert_eq!(
        binaries,
        [
            "authorizer",
            "groups",
            "resource_types",
            "schemas",
            "service_provider_config",
            "users"
        ]
    );
}
