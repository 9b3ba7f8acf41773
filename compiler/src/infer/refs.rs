//! The places a value names another host: URLs (`postgresql://user@accounts-db:5432/db`,
//! `mongodb://a:27017,b:27017/db`, JDBC's `jdbc:mysql://…`), `host:port`, and a value that is a
//! host name and nothing else, in lists separated by commas, spaces or semicolons.

/// A host a value names, with the port if it says one and the URL scheme it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Lowercase, without a trailing dot.
    pub host: String,
    pub port: Option<u16>,
    pub scheme: Option<String>,
    /// Written as `host` alone (the whole value), not in a URL nor with a port: weaker, since a
    /// word may be a name by chance.
    pub bare: bool,
}

/// The port a scheme means when a URL gives none.
pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" => 6379,
        "rediss" => 6380,
        "mongodb" => 27017,
        "amqp" => 5672,
        "amqps" => 5671,
        "nats" => 4222,
        "kafka" => 9092,
        "memcached" => 11211,
        "ldap" => 389,
        "ldaps" => 636,
        "smtp" => 25,
        "ftp" => 21,
        "grpc" => 443,
        _ => return None,
    })
}

fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'
}

/// Whether `host` can be a DNS name: labels of letters, digits and `-`, not all digits.
pub fn dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && !host.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `host[:port]`, the host lowercased; `None` if it is not one.
fn host_port(text: &str) -> Option<(String, Option<u16>)> {
    let text = text.trim_matches(|c: char| c == '"' || c == '\'');
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok().filter(|p| *p > 0)?)),
        None => (text, None),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.chars().all(host_char)).then_some((host, port))
}

/// Every reference in `value`.
pub fn references(value: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut rest = String::new();
    let mut text = value;
    // URLs first: their authority may hold several hosts separated by commas.
    while let Some(at) = text.find("://") {
        let before = text.get(..at).unwrap_or_default();
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |i| i + 1);
        let scheme = before.get(start..).unwrap_or_default().to_ascii_lowercase();
        rest.push_str(before.get(..start).unwrap_or_default());
        rest.push(' ');
        let after = text.get(at + 3..).unwrap_or_default();
        let end = after
            .find(['/', '?', '#', ' ', '\t', '\n', '"', '\'', ';'])
            .unwrap_or(after.len());
        let authority = after.get(..end).unwrap_or_default();
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // `jdbc:postgresql` and `mongodb+srv` name the scheme after the prefix.
        let scheme = scheme.rsplit(':').next().unwrap_or_default().to_string();
        for h in hosts.split(',') {
            if let Some((host, port)) = host_port(h) {
                out.push(Reference {
                    host,
                    port,
                    scheme: (!scheme.is_empty()).then(|| scheme.clone()),
                    bare: false,
                });
            }
        }
        // The rest of the URL (path, query) may hold another: `?next=http://…`.
        text = after.get(end..).unwrap_or_default();
    }
    rest.push_str(text);
    let words: Vec<&str> = rest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '=' | '(' | ')' | '"' | '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let alone = words.len() == 1 && value.trim() == words.first().copied().unwrap_or_default();
    for word in words {
        let Some((host, port)) = host_port(word) else {
            continue;
        };
        if port.is_none() && !alone {
            continue;
        }
        out.push(Reference {
            host,
            port,
            scheme: None,
            bare: port.is_none(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(v: &str) -> Vec<(String, Option<u16>, Option<String>)> {
        references(v)
            .into_iter()
            .map(|r| (r.host, r.port, r.scheme))
            .collect()
    }

    #[test]
    fn every_form() {
        assert_eq!(
            hosts("productcatalogservice:3550"),
            [("productcatalogservice".into(), Some(3550), None)]
        );
        assert_eq!(
            hosts("postgresql://user:pw@accounts-db:5432/db?ssl=true"),
            [("accounts-db".into(), Some(5432), Some("postgresql".into()))]
        );
        assert_eq!(
            hosts("mongodb://a.shop:27017,b.shop.svc.cluster.local:27018/db"),
            [
                ("a.shop".into(), Some(27017), Some("mongodb".into())),
                (
                    "b.shop.svc.cluster.local".into(),
                    Some(27018),
                    Some("mongodb".into())
                )
            ]
        );
        assert_eq!(
            hosts("jdbc:mysql://Orders.Shop.svc:3306/orders"),
            [("orders.shop.svc".into(), Some(3306), Some("mysql".into()))]
        );
        assert_eq!(
            hosts("redis://cache"),
            [("cache".into(), None, Some("redis".into()))]
        );
        assert_eq!(
            hosts("--upstream=catalog:8080 --peer cart:7070"),
            [
                ("catalog".into(), Some(8080), None),
                ("cart".into(), Some(7070), None)
            ]
        );
        assert_eq!(hosts("catalog"), [("catalog".into(), None, None)]);
        // A word among others without a port is no reference; numbers are no hosts.
        assert!(hosts("run the catalog").is_empty());
        assert_eq!(hosts("8080"), [("8080".into(), None, None)]);
        assert!(!dns_name("8080") && !dns_name("10.0.0.1") && dns_name("api.stripe.com"));
        assert!(
            hosts("shop_session-id=x-readiness-probe")
                .iter()
                .all(|h| h.1.is_none())
        );
    }
}
