//! PEP 508 requirement strings (`requests[security] >=2.8.1 ; python_version < "3.8"`) and
//! PEP 503 package names, shared by the Python extractors and the collector.
//!
//! Invariants: requirements are parsed by `pep508_rs` (names PEP 503-normalized, markers kept
//! out of the name); a specifier is kept as written, not as `pep508_rs` prints it.

use std::str::FromStr;

use pep508_rs::{Requirement, VersionOrUrl};

/// A PEP 508 requirement's normalized name and its specifier (`>=2,<3`, or `@ <url>`).
pub(crate) fn parse_requirement(text: &str) -> Result<(String, Option<String>), String> {
    let requirement = Requirement::<url::Url>::from_str(text.trim()).map_err(|e| {
        let message = e.to_string();
        format!(
            "bad requirement `{}`: {}",
            text.trim(),
            message.lines().next().unwrap_or("unparsable")
        )
    })?;
    let specifier = match &requirement.version_or_url {
        None => None,
        Some(VersionOrUrl::VersionSpecifier(specifiers)) if specifiers.is_empty() => None,
        Some(VersionOrUrl::VersionSpecifier(_)) => Some(written_specifier(text)),
        Some(VersionOrUrl::Url(url)) => Some(format!("@ {url}")),
    };
    Ok((requirement.name.to_string(), specifier))
}

/// The version specifier of a requirement that parsed, as written (clause order kept,
/// whitespace and parentheses dropped): `requests [security] >= 2.8.1, == 2.8.* ; marker`
/// -> `>=2.8.1,==2.8.*`.
pub(super) fn written_specifier(requirement: &str) -> String {
    let before_marker = requirement.split(';').next().unwrap_or(requirement).trim();
    let after_name = before_marker
        .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let after_extras = match after_name.trim_start().strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(_, tail)| tail),
        None => after_name,
    };
    after_extras
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect()
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
