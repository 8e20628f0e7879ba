//! `--set key=value` overrides applied to a TOML configuration before it is validated.

use toml::{Table, Value};

/// Applies `key=value` pairs (dotted keys reach into tables: `loss.kind=hinge`) to `table`.
/// Values are read as TOML (`3`, `1e-4`, `true`, `"x"`), and as plain strings otherwise.
pub fn apply(table: &mut Table, sets: &[String]) -> Result<(), String> {
    for item in sets {
        let (key, raw) = item
            .split_once('=')
            .ok_or_else(|| format!("--set {item:?}: expected key=value, e.g. loss.kind=hinge"))?;
        let value = parse_value(raw.trim());
        let mut parts: Vec<&str> = key.trim().split('.').collect();
        let last = parts
            .pop()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| format!("--set {item:?}: empty key"))?;
        let mut t: &mut Table = table;
        for p in parts {
            t = t
                .entry(p.to_string())
                .or_insert_with(|| Value::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("--set {item:?}: {p} is not a table"))?;
        }
        t.insert(last.to_string(), value);
    }
    Ok(())
}

fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match doc.parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_and_typed_values() {
        let mut t = Table::new();
        apply(
            &mut t,
            &[
                "steps=5".into(),
                "loss.kind=hinge".into(),
                "optim.lr_g=1e-3".into(),
            ],
        )
        .unwrap();
        assert_eq!(t["steps"].as_integer(), Some(5));
        assert_eq!(t["loss"]["kind"].as_str(), Some("hinge"));
        assert_eq!(t["optim"]["lr_g"].as_float(), Some(1e-3));
        assert!(apply(&mut t, &["nokey".into()]).is_err());
    }
}
