//! The AWS profile files for an `s3://` shared cache: `~/.aws/credentials` and
//! `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), the profile
//! `AWS_PROFILE` names (else `default`), as the AWS CLI reads them. `object_store` reads
//! only the environment, so this fills in what the environment leaves out, with the
//! CLI's precedence: credentials from the environment win as a set (a profile's key is
//! never mixed with an environment secret), then `AWS_REGION` / `AWS_DEFAULT_REGION` and
//! `AWS_ENDPOINT_URL` win over the profile's `region` and `endpoint_url`.
//!
//! Static keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) are
//! read; a profile that gets its credentials by running something (`credential_process`,
//! SSO, `role_arn`) is reported once, since Heimdall runs no such program
//! (`aws configure export-credentials --format env` gives the variables). No value from
//! these files reaches a log or an error message.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object_store::aws::AmazonS3ConfigKey;

/// Settings from the profile files that the environment `env` does not set already.
/// `home` is where `~/.aws` is looked for. An `AWS_PROFILE` that neither file holds is
/// an error; missing files are not.
pub fn profile_settings(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Vec<(AmazonS3ConfigKey, String)>, String> {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let chosen = env("AWS_PROFILE").filter(|p| !p.is_empty());
    let profile = chosen.clone().unwrap_or_else(|| "default".to_string());
    let file = |var: &str, name: &str| {
        env(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".aws").join(name)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .map(|p| section(&p, &profile))
        .transpose()?
        .flatten();
    let config_section = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    let config = file("AWS_CONFIG_FILE", "config")
        .map(|p| section(&p, &config_section))
        .transpose()?
        .flatten();
    if chosen.is_some() && credentials.is_none() && config.is_none() {
        return Err(format!(
            "AWS_PROFILE `{profile}` is in neither the AWS credentials nor the config file"
        ));
    }
    let get = |key: &str| {
        credentials
            .as_ref()
            .and_then(|c| c.get(key))
            .or_else(|| config.as_ref().and_then(|c| c.get(key)))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let mut out = Vec::new();
    if !set("AWS_ACCESS_KEY_ID") {
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            out.push((AmazonS3ConfigKey::AccessKeyId, id));
            out.push((AmazonS3ConfigKey::SecretAccessKey, secret));
            if let Some(token) = get("aws_session_token") {
                out.push((AmazonS3ConfigKey::Token, token));
            }
        } else if let Some(how) = [
            "credential_process",
            "sso_session",
            "sso_start_url",
            "role_arn",
        ]
        .into_iter()
        .find(|k| get(k).is_some())
        {
            tracing::warn!(
                %profile,
                uses = how,
                "the AWS profile gets its credentials by running something, which heimdall \
                 does not do; `aws configure export-credentials --format env` gives the variables"
            );
        }
    }
    if !set("AWS_REGION")
        && !set("AWS_DEFAULT_REGION")
        && let Some(region) = get("region")
    {
        out.push((AmazonS3ConfigKey::Region, region));
    }
    if !set("AWS_ENDPOINT_URL")
        && !set("AWS_ENDPOINT")
        && let Some(endpoint) = get("endpoint_url")
    {
        out.push((AmazonS3ConfigKey::Endpoint, endpoint));
    }
    Ok(out)
}

/// The keys of `[name]` in the INI file at `path`; `None` when the file or the section
/// is missing. Parse errors name the file only (a line could hold a secret).
fn section(path: &Path, name: &str) -> Result<Option<HashMap<String, String>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {}", path.display(), e.kind())),
    };
    let mut ini = configparser::ini::Ini::new_cs();
    let map = ini
        .read(text)
        .map_err(|_| format!("{}: not an INI file AWS would read", path.display()))?;
    Ok(map.get(name).map(|keys| {
        keys.iter()
            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.clone()?.trim().to_string())))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws").join(name), text).unwrap();
    }

    fn settings(home: &Path, vars: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| vars.get(k).cloned();
        profile_settings(&env, Some(home)).map(|s| {
            s.into_iter()
                .map(|(k, v)| (k.as_ref().to_string(), v))
                .collect()
        })
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s3cretdefault\n\n[team]\naws_access_key_id=AKIDTEAM\naws_secret_access_key=s3cretteam\naws_session_token=tok\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n\n[profile team]\nregion = us-east-2\nendpoint_url = http://127.0.0.1:3900\n\n[profile sso]\nsso_session = corp\nregion = ap-south-1\n";

    #[test]
    fn the_default_profile_fills_in_what_the_environment_leaves_out() {
        let home = tempfile::tempdir().unwrap();
        write(home.path(), "credentials", CREDENTIALS);
        write(home.path(), "config", CONFIG);
        let got = settings(home.path(), &[]).unwrap();
        assert_eq!(
            got,
            vec![
                ("aws_access_key_id".into(), "AKIDDEFAULT".into()),
                ("aws_secret_access_key".into(), "s3cretdefault".into()),
                ("aws_region".into(), "eu-west-1".into()),
            ]
        );
        // The environment's credentials win as a set, its region over the profile's.
        let got = settings(
            home.path(),
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_REGION", "us-west-2"),
            ],
        )
        .unwrap();
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn aws_profile_picks_a_named_profile_from_both_files() {
        let home = tempfile::tempdir().unwrap();
        write(home.path(), "credentials", CREDENTIALS);
        write(home.path(), "config", CONFIG);
        let got = settings(home.path(), &[("AWS_PROFILE", "team")]).unwrap();
        assert_eq!(
            got,
            vec![
                ("aws_access_key_id".into(), "AKIDTEAM".into()),
                ("aws_secret_access_key".into(), "s3cretteam".into()),
                ("aws_session_token".into(), "tok".into()),
                ("aws_region".into(), "us-east-2".into()),
                ("aws_endpoint".into(), "http://127.0.0.1:3900".into()),
            ]
        );
        // A profile that runs something for its keys gives only its region.
        let got = settings(home.path(), &[("AWS_PROFILE", "sso")]).unwrap();
        assert_eq!(got, vec![("aws_region".into(), "ap-south-1".into())]);
        let err = settings(home.path(), &[("AWS_PROFILE", "nope")]).unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn other_file_locations_and_no_files_at_all() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(settings(home.path(), &[]).unwrap(), vec![]);
        let creds = home.path().join("elsewhere");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id=A\naws_secret_access_key=B\n",
        )
        .unwrap();
        let got = settings(
            home.path(),
            &[("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        // A broken file is an error naming the file, not its lines.
        std::fs::write(&creds, "[default\naws_secret_access_key=s3cretbroken\n").unwrap();
        let err = settings(
            home.path(),
            &[("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())],
        )
        .unwrap_err();
        assert!(!err.contains("s3cretbroken"), "{err}");
    }
}
