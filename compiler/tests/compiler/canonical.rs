//! Declarations that mean the same thing compile to the same policies: the `spec` of every
//! generated NetworkPolicy and CiliumNetworkPolicy is identical (annotations, which point at
//! source lines, may differ), however flows are split, ordered, spelled or declared.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "in tests a panic is a failed test"
)]

use serde::Deserialize as _;
use std::collections::BTreeMap;
use warden::document::Target;
use warden::span::SourceMap;

const HEADER: &str = r#"
namespace shop { isolate  allow dns  labels team = "a" }
service db in shop { pods app = "db"  port pg 5432/tcp  port admin 5433/tcp  port redis 6379/tcp }
service cache in shop { pods app = "cache"  port redis 6379/tcp  port pg 5432/tcp }
"#;

/// Each generated policy's path and `spec`.
fn specs(body: &str) -> BTreeMap<String, serde_json::Value> {
    let mut sources = SourceMap::new();
    sources.add("p.warden".to_string(), format!("{HEADER}{body}"));
    let c = warden::compile(sources, &[Target::Netpol, Target::Cilium]);
    let docs = c.documents.unwrap_or_else(|| {
        panic!(
            "{body}\n{}",
            warden::diag::render::human(&c.sources, &c.diagnostics)
        )
    });
    docs.iter()
        .filter(|d| d.path.starts_with("netpol/") || d.path.starts_with("cilium/"))
        .map(|d| {
            let v = serde_json::Value::deserialize(serde_yaml::Deserializer::from_str(&d.text))
                .unwrap();
            (d.path.clone(), v["spec"].clone())
        })
        .collect()
}

#[test]
fn the_same_meaning_gives_the_same_policies() {
    let groups: &[&[&str]] = &[
        // One line or several, in any order.
        &[
            r#"service api in shop { pods app = "api"  to db, cache on 6379, 5432 }"#,
            r#"service api in shop { pods app = "api"  to cache on redis  to db on pg  to db on 6379  to cache on 5432 }"#,
            r#"service api in shop { pods app = "api"  to db on pg  to cache, db on 6379  to cache on 5432  to db on pg }"#,
        ],
        // Declared by the client or by the server.
        &[
            r#"service api in shop { pods app = "api"  to web on http }
               service web in shop { pods app = "web"  port http 8080 }"#,
            r#"service web in shop { pods app = "web"  port http 8080  from api on 8080 }
               service api in shop { pods app = "api" }"#,
        ],
        // Ports by name, by number, as a range, or as neighbours.
        &[
            r#"service api in shop { pods app = "api"  to db on pg, admin }"#,
            r#"service api in shop { pods app = "api"  to db on 5432-5433 }"#,
            r#"service api in shop { pods app = "api"  to db on 5433  to db on 5432/tcp }"#,
        ],
        // `world` is both address families.
        &[
            r#"service api in shop { pods app = "api"  port http 8080  from world on http }"#,
            r#"service api in shop { pods app = "api"  port http 8080  from cidr ::/0, cidr 0.0.0.0/0 on 8080 }"#,
        ],
        // A one-value set is an equality; labels in any order.
        &[
            r#"service api in shop { pods app = "api", tier = "web"  to db on pg }"#,
            r#"service api in shop { pods tier in (web), app = "api"  to db on pg }"#,
        ],
        // Every port, said or not.
        &[
            r#"service api in shop { pods app = "api"  to cache }"#,
            r#"service api in shop { pods app = "api"  to cache on all ports  to cache on redis }"#,
        ],
    ];
    for group in groups {
        let first = specs(group[0]);
        assert!(!first.is_empty());
        for other in &group[1..] {
            let theirs = specs(other);
            assert_eq!(
                first.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>()
            );
            for (path, spec) in &first {
                assert_eq!(
                    Some(spec),
                    theirs.get(path),
                    "{path} differs between\n  {}\nand\n  {other}",
                    group[0]
                );
            }
        }
    }
}
