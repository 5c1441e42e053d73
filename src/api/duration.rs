//! Durations as the CRDs write them (`30s`, `1h30m`): one pattern in the schema, one
//! parser here, and a test that they agree.

use super::DURATION_PATTERN;

/// Parses a duration of the CRDs' [`DURATION_PATTERN`]
/// form into whole seconds. The pattern itself decides what is a duration, so this
/// accepts exactly what the API server admits (humantime took `1d` and `8 hours`, which
/// the schema refuses).
pub(crate) fn parse_duration(value: &str) -> Result<u64, String> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern =
        PATTERN.get_or_init(|| regex::Regex::new(DURATION_PATTERN).expect("a valid pattern"));
    let refused = || {
        format!(
            "{value:?} is not a duration like 30s, 15m, 12h or 1h30m (whole numbers with ms, s, m or h)"
        )
    };
    if !pattern.is_match(value) {
        return Err(refused());
    }
    let too_long = || format!("{value:?} is too long a duration");
    let (mut millis, mut number) = (0u64, 0u64);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let unit = match c {
            '0'..='9' => {
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(c) - u64::from('0')))
                    .ok_or_else(too_long)?;
                continue;
            }
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1_000,
            'h' => 3_600_000,
            _ => return Err(refused()),
        };
        millis = number
            .checked_mul(unit)
            .and_then(|n| n.checked_add(millis))
            .ok_or_else(too_long)?;
        number = 0;
    }
    Ok(millis / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_to_seconds_and_errors_quote_the_value() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("1500ms").unwrap(), 1);
        assert_eq!(parse_duration("2m3s").unwrap(), 123);
        assert!(parse_duration("soon").unwrap_err().contains("\"soon\""));
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    /// One rule: the duration every CRD field states in its schema is the one
    /// `parse_duration` accepts, on a table of inputs (the API server's side of the
    /// agreement is `tests/processes/render_strict.rs`).
    #[test]
    fn the_schema_pattern_and_parse_duration_agree() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(super::super::ForwardAuthRoute::crd()).unwrap();
        let schema_pattern = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
            ["spec"]["properties"]["session"]["properties"]["lifetime"]["pattern"]
            .as_str()
            .unwrap()
            .to_string();
        let schema = regex::Regex::new(&schema_pattern).unwrap();
        for input in [
            "30s", "1h30m", "500ms", "0s", "1h0m0s", "1ms1s", "12h", "1d", "8 hours", "1.5h",
            "-5m", "5", "h", "10us", "1h 30m", "", " 1h", "1H", "1m\n", "ms",
        ] {
            assert_eq!(
                schema.is_match(input),
                parse_duration(input).is_ok(),
                "{input:?}"
            );
        }
    }
}
