//! The deployment files cannot run here (no container engine, no cluster), so they are checked
//! for what can be checked: they parse, and they describe the topology README promises — three
//! ScyllaDB nodes, an MQTT broker cluster, two Hutong nodes on the cluster store with their own
//! communities, and no secret written into a file.

use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

fn deploy(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(file)).unwrap()
}

fn documents(file: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(&deploy(file)).map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}"))).collect()
}

#[test]
fn the_compose_file_describes_the_cluster() {
    let mut compose: Value = serde_yaml::from_str(&deploy("compose.yaml")).expect("compose.yaml parses");
    compose.apply_merge().expect("merge keys resolve");
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    for s in ["scylla-1", "scylla-2", "scylla-3", "emqx-1", "emqx-2", "hutong-store-init", "hutong-1", "hutong-2"] {
        assert!(names.contains(&s), "compose has {s}");
    }
    let mut communities = Vec::new();
    for node in ["hutong-1", "hutong-2"] {
        let command: Vec<&str> = services[node]["command"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(command[0], "serve");
        assert!(command.iter().any(|a| a.starts_with("--store=scylla://")), "{node} uses the cluster store");
        assert!(command.iter().any(|a| a.starts_with("--mqtt-url=mqtt://emqx")), "{node} uses the broker cluster");
        communities.push(command.iter().find_map(|a| a.strip_prefix("--communities=")).unwrap().to_string());
    }
    assert_ne!(communities[0], communities[1], "each node runs its own communities");
    for node in ["hutong-1", "hutong-2"] {
        assert_eq!(services[node]["env_file"][0].as_str(), Some("hutong.env"), "{node}'s secrets come from an env file");
        let env = serde_yaml::to_string(&services[node]["environment"]).unwrap();
        assert!(!env.contains("PASSWORD") && !env.contains("SECRET"), "no secret in the file: {env}");
    }
}

#[test]
fn the_kubernetes_manifests_parse_and_keep_secrets_out() {
    let mut kinds = Vec::new();
    for file in ["k8s/scylla.yaml", "k8s/emqx.yaml", "k8s/hutong.yaml"] {
        for doc in documents(file) {
            assert!(doc["apiVersion"].as_str().is_some() && doc["metadata"]["name"].as_str().is_some(), "{file}: {doc:?}");
            let kind = doc["kind"].as_str().unwrap().to_string();
            let name = doc["metadata"]["name"].as_str().unwrap().to_string();
            if kind == "StatefulSet" {
                let replicas = doc["spec"]["replicas"].as_u64().unwrap();
                kinds.push(format!("{name}×{replicas}"));
            }
        }
    }
    assert!(kinds.contains(&"scylla×3".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"emqx×3".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"hutong×2".to_string()), "{kinds:?}");
    let hutong = deploy("k8s/hutong.yaml");
    assert!(hutong.contains("secretKeyRef") && !hutong.contains("kind: Secret"), "secrets come from the cluster, not the file");
}

#[test]
fn the_schema_uses_only_portable_cql() {
    let schema = deploy("scylla/schema.cql");
    for feature in ["MATERIALIZED VIEW", "CUSTOM INDEX", "USING TIMEOUT", "BYPASS CACHE", "CDC"] {
        assert!(!schema.to_uppercase().contains(feature), "{feature} is not accepted by both ScyllaDB and Cassandra");
    }
    assert!(schema.contains("PRIMARY KEY ((stream, bucket), seq)"), "events are bucketed");
}
