//! Canonical JSON: object keys sorted, no whitespace. The bytes hashed for template
//! versions and chained entries, independent of how `serde_json` orders maps.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialises `value` with object keys in byte order.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*k) {
                    write_value(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256:<hex>` of the given bytes.
pub fn sha256_tagged(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": true, "x": null}], "c": "文字"}});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"a":{"c":"文字","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    proptest! {
        #[test]
        fn canonical_form_round_trips(keys in proptest::collection::vec("[a-z]{1,6}", 0..8), n in any::<i64>()) {
            let mut map = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                map.insert(k.clone(), json!(n.wrapping_add(i as i64)));
            }
            let v = Value::Object(map);
            let s = to_canonical_string(&v);
            let back: Value = serde_json::from_str(&s).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(to_canonical_string(&back), s);
        }
    }
}
