//! `template.yaml` declares the same table the code creates, and every
//! binary the template builds exists.

use std::collections::BTreeMap;

use scim_serverless::store::dynamo::keys::{MEMBER_SK_PREFIX, RESOURCE_SK};
use scim_serverless::store::dynamo::ops::{activity_pk, request_log_pk};
use scim_serverless::store::dynamo::table::{INDEXES, STREAM_VIEW, TABLE_KEY, TTL_ATTRIBUTE};
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
            "bulk",
            "events",
            "groups",
            "manage",
            "recorder",
            "resource_types",
            "schemas",
            "service_provider_config",
            "users"
        ]
    );
}

/// A YAML value as its text (tags such as `!Ref` included).
fn text(value: &Value) -> String {
    serde_yaml_ng::to_string(value).unwrap().trim().to_owned()
}

fn functions(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

#[test]
fn architecture_is_a_parameter_defaulting_to_arm64() {
    let t = template();
    let parameter = &t["Parameters"]["Architecture"];
    assert_eq!(parameter["Default"], "arm64");
    assert_eq!(text(&parameter["AllowedValues"]), "- arm64\n- x86_64");
    assert_eq!(
        text(&t["Globals"]["Function"]["Architectures"]),
        "- !Ref Architecture"
    );
    for (name, function) in functions(&t) {
        assert!(
            function["Properties"].get("Architectures").is_none(),
            "{name} overrides the architecture"
        );
    }
}

#[test]
fn every_function_logs_to_its_own_group_with_the_retention_parameter() {
    let t = template();
    let resources = &t["Resources"];
    let mut groups = Vec::new();
    for (name, function) in functions(&t) {
        let reference = text(&function["Properties"]["LoggingConfig"]["LogGroup"]);
        let group = reference
            .strip_prefix("!Ref ")
            .unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup is {reference}"));
        assert_eq!(resources[group]["Type"], "AWS::Logs::LogGroup", "{name}");
        assert_eq!(
            text(&resources[group]["Properties"]["RetentionInDays"]),
            "!Ref LogRetentionDays"
        );
        groups.push(group.to_owned());
    }
    groups.sort();
    groups.dedup();
    assert_eq!(
        groups.len(),
        functions(&t).len(),
        "one log group per function"
    );
    assert_eq!(t["Parameters"]["LogRetentionDays"]["Default"], 30);
    assert!(
        text(&t["Globals"]["Function"]["Environment"]["Variables"]["SCIM_METRICS_NAMESPACE"])
            .contains("SCIM/${AWS::StackName}")
    );
}

#[test]
fn alarms_cover_5xx_rate_throttles_and_authorizer_errors_and_notify_the_topic() {
    let t = template();
    let resources = &t["Resources"];
    let alarms = [
        "ServerErrorRateAlarm",
        "ThrottlesAlarm",
        "AuthorizerErrorsAlarm",
        "ManageErrorsAlarm",
        "RecorderErrorsAlarm",
    ];
    for alarm in alarms {
        let properties = &resources[alarm]["Properties"];
        assert_eq!(
            resources[alarm]["Type"], "AWS::CloudWatch::Alarm",
            "{alarm}"
        );
        assert!(
            text(&properties["AlarmActions"]).contains("HasAlarmTopic"),
            "{alarm}"
        );
    }
    let rate = text(&resources["ServerErrorRateAlarm"]["Properties"]["Metrics"]);
    assert!(rate.contains("MetricName: 5xx") && rate.contains("MetricName: Count"));
    let throttles = text(&resources["ThrottlesAlarm"]["Properties"]["Metrics"]);
    for (name, _) in functions(&t) {
        assert!(
            throttles.contains(&format!("!Ref {name}")),
            "{name} throttles"
        );
    }
    assert_eq!(
        text(&resources["AuthorizerErrorsAlarm"]["Properties"]["Dimensions"][0]["Value"]),
        "!Ref AuthorizerFunction"
    );
    assert_eq!(t["Parameters"]["AlarmTopicArn"]["Default"], "");
}

#[test]
fn logs_insights_queries_are_saved() {
    let t = template();
    let names: Vec<String> = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Logs::QueryDefinition")
        .map(|r| text(&r["Properties"]["Name"]))
        .collect();
    for wanted in [
        "failures of one tenant",
        "everything that happened to one resource id",
        "slowest requests",
    ] {
        assert!(
            names.iter().any(|n| n.contains(wanted)),
            "{wanted} in {names:?}"
        );
    }
}

#[test]
fn the_table_streams_to_the_events_function_which_publishes_to_its_bus_only() {
    let t = template();
    let r = &t["Resources"];
    let table = &r["ScimTable"]["Properties"];
    assert_eq!(table["StreamSpecification"]["StreamViewType"], STREAM_VIEW);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        TTL_ATTRIBUTE
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);

    let function = &r["EventsFunction"]["Properties"];
    assert_eq!(
        text(&function["Environment"]["Variables"]["SCIM_EVENT_BUS_NAME"]),
        "!Ref ProvisioningEventBus"
    );
    assert_eq!(text(&function["Role"]), "!GetAtt EventsFunctionRole.Arn");
    assert!(function.get("Policies").is_none());
    let source = &function["Events"]["TableStream"];
    assert_eq!(source["Type"], "DynamoDB");
    let mapping = &source["Properties"];
    assert_eq!(text(&mapping["Stream"]), "!GetAtt ScimTable.StreamArn");
    assert_eq!(
        text(&mapping["FunctionResponseTypes"]),
        "- ReportBatchItemFailures"
    );
    assert_eq!(mapping["BisectBatchOnFunctionError"], true);
    assert!(
        mapping["MaximumRetryAttempts"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert_eq!(
        text(&mapping["DestinationConfig"]["OnFailure"]["Destination"]),
        "!GetAtt EventsDeadLetterQueue.Arn"
    );

    assert_eq!(r["ProvisioningEventBus"]["Type"], "AWS::Events::EventBus");
    assert_eq!(r["EventsDeadLetterQueue"]["Type"], "AWS::SQS::Queue");
    assert_eq!(
        text(&t["Outputs"]["EventBusName"]["Value"]),
        "!Ref ProvisioningEventBus"
    );

    // Least privilege: each action on its one resource.
    let statements =
        r["EventsFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap();
    let mut grants: Vec<(String, String)> = Vec::new();
    for s in statements {
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<String> = match &s["Action"] {
            Value::Sequence(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
            a => vec![a.as_str().unwrap().to_owned()],
        };
        for a in actions {
            grants.push((a, text(&s["Resource"])));
        }
    }
    grants.sort();
    let want = [
        ("dynamodb:BatchGetItem", "!GetAtt ScimTable.Arn"),
        ("dynamodb:BatchWriteItem", "!GetAtt ScimTable.Arn"),
        ("dynamodb:DescribeStream", "!GetAtt ScimTable.StreamArn"),
        ("dynamodb:GetItem", "!GetAtt ScimTable.Arn"),
        ("dynamodb:GetRecords", "!GetAtt ScimTable.StreamArn"),
        ("dynamodb:GetShardIterator", "!GetAtt ScimTable.StreamArn"),
        ("dynamodb:ListStreams", "'*'"),
        ("dynamodb:PutItem", "!GetAtt ScimTable.Arn"),
        ("events:PutEvents", "!GetAtt ProvisioningEventBus.Arn"),
        ("logs:CreateLogStream", "!GetAtt EventsLogs.Arn"),
        ("logs:PutLogEvents", "!GetAtt EventsLogs.Arn"),
        (
            "secretsmanager:GetSecretValue",
            "!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}*",
        ),
        ("sqs:SendMessage", "!GetAtt EventsDeadLetterQueue.Arn"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect();
    assert_eq!(grants, want);
    // The table only in the breaker's and the counters' partitions.
    let table_statement = statements
        .iter()
        .find(|s| text(&s["Resource"]) == "!GetAtt ScimTable.Arn")
        .unwrap();
    let keys: Vec<&str> =
        table_statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
    assert_eq!(keys, ["T#*#B", "T#*#C"]);
    let tripped = &r["BreakerTrippedAlarm"]["Properties"];
    assert_eq!(tripped["MetricName"], "breaker_trips");
    assert!(text(&tripped["AlarmActions"]).contains("HasAlarmTopic"));

    let alarm = &r["EventsDeadLetterAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        text(&alarm["Dimensions"][0]["Value"]),
        "!GetAtt EventsDeadLetterQueue.QueueName"
    );
    assert!(text(&alarm["AlarmActions"]).contains("HasAlarmTopic"));
}

/// The statements of a function's inline policies as (action, resource) pairs.
fn grants(function: &Value) -> Vec<(String, String)> {
    let mut grants = Vec::new();
    for policy in function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for s in policy["Statement"].as_sequence().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            let actions: Vec<String> = match &s["Action"] {
                Value::Sequence(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
                a => vec![a.as_str().unwrap().to_owned()],
            };
            for a in actions {
                grants.push((a, text(&s["Resource"])));
            }
        }
    }
    grants
}

#[test]
fn only_the_stream_items_that_become_events_reach_the_events_function() {
    let t = template();
    let mapping =
        &t["Resources"]["EventsFunction"]["Properties"]["Events"]["TableStream"]["Properties"];
    let filters = mapping["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    // Exactly the items `stream::change_of` decodes: a resource, a membership edge.
    assert_eq!(
        pattern,
        serde_json::json!({"dynamodb": {"Keys": {TABLE_KEY.1: {"S": [RESOURCE_SK, {"prefix": MEMBER_SK_PREFIX}]}}}})
    );
}

#[test]
fn the_management_api_is_iam_authorized_and_alone_writes_secrets_and_purges() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(
        r["ScimApi"]["Properties"]["Auth"]["EnableIamAuthorizer"],
        true
    );
    let manage = &r["ManageFunction"];
    let events = &manage["Properties"]["Events"];
    assert_eq!(events["Api"]["Type"], "HttpApi");
    assert_eq!(events["Api"]["Properties"]["Path"], "/manage/v1/{proxy+}");
    assert_eq!(events["Api"]["Properties"]["Auth"]["Authorizer"], "AWS_IAM");
    assert_eq!(events["PurgeSchedule"]["Type"], "Schedule");
    // A purge step's budget (40 s) fits in one invocation.
    assert!(manage["Properties"]["Timeout"].as_u64().unwrap() >= 45);
    let variables = &manage["Properties"]["Environment"]["Variables"];
    assert_eq!(
        text(&variables["SCIM_AUTHORIZER_CACHE_TTL_SECS"]),
        "!Ref AuthorizerCacheTtlSeconds"
    );
    assert_eq!(
        text(&variables["SCIM_TOKEN_CACHE_TTL_SECS"]),
        "!Ref TokenCacheTtlSeconds"
    );

    // Every other function: no secret writes, no batch deletes.
    let writes = [
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
    ];
    for (name, function) in functions(&t) {
        let grants = grants(&function);
        let writes_secrets = grants.iter().any(|(a, _)| writes.contains(&a.as_str()));
        assert_eq!(writes_secrets, name == "ManageFunction", "{name}");
        let batch_writes = grants.iter().any(|(a, _)| a == "dynamodb:BatchWriteItem");
        assert_eq!(
            batch_writes,
            name == "ManageFunction" || name == "RecorderFunction",
            "{name}"
        );
        for (action, resource) in &grants {
            if action.starts_with("secretsmanager:") && action != "secretsmanager:ListSecrets" {
                assert!(
                    resource.contains("secret:${SecretPrefix}*"),
                    "{name} {action}"
                );
            }
        }
    }
    assert!(text(&t["Outputs"]["ManageApiUrl"]["Value"]).contains("/${Stage}/manage/v1"));
}

/// A `StringLike` pattern (only `*` is special) against a value.
fn like(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap();
    let Some(mut tail) = value.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

#[test]
fn the_recorder_writes_only_request_logs_and_activity_from_every_request_line() {
    let t = template();
    let r = &t["Resources"];
    let recorder = &r["RecorderFunction"];
    let mut actions: Vec<String> = grants(recorder).into_iter().map(|(a, _)| a).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "dynamodb:BatchWriteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]
    );
    let statement = &recorder["Properties"]["Policies"][0]["Statement"][0];
    let keys: Vec<&str> = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let allowed = |pk: &str| keys.iter().any(|k| like(k, pk));
    assert!(allowed(&request_log_pk("acme")) && allowed(&activity_pk("acme")));
    for scim_item in [
        "T#acme#U#8f14e45f",
        "T#acme#G#c9f0f895",
        "OPS#PURGE",
        "T#acme",
    ] {
        assert!(!allowed(scim_item), "{scim_item}");
    }

    // Every function that answers requests hands its request lines to it.
    let mut subscribed: Vec<String> = r
        .as_mapping()
        .unwrap()
        .values()
        .filter(|x| x["Type"] == "AWS::Logs::SubscriptionFilter")
        .map(|x| {
            assert_eq!(
                x["Properties"]["FilterPattern"],
                "{ $.type = \"scim.request\" }"
            );
            assert_eq!(
                text(&x["Properties"]["DestinationArn"]),
                "!GetAtt RecorderFunction.Arn"
            );
            assert_eq!(x["DependsOn"], "RecorderInvokedByLogs");
            text(&x["Properties"]["LogGroupName"])
        })
        .collect();
    subscribed.sort();
    let mut answering: Vec<String> = functions(&t)
        .into_iter()
        .filter(|(name, _)| {
            !["EventsFunction", "ManageFunction", "RecorderFunction"].contains(&name.as_str())
        })
        .map(|(_, f)| text(&f["Properties"]["LoggingConfig"]["LogGroup"]))
        .collect();
    answering.sort();
    assert_eq!(subscribed, answering);
    let permission = &r["RecorderInvokedByLogs"]["Properties"];
    assert_eq!(permission["Principal"], "logs.amazonaws.com");
    assert!(text(&permission["SourceArn"]).contains("log-group:/aws/lambda/${AWS::StackName}-*"));
}
