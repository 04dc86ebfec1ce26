//! Which repositories of an organization a scan covers.

use std::time::Duration;

use regex::Regex;

use crate::remote::RepoInfo;

/// The user's repository filters (`scan-org` flags).
#[derive(Debug, Clone, Default)]
pub struct RepoFilter {
    /// GitHub's primary language, compared case-insensitively.
    pub language: Option<String>,
    pub min_stars: Option<u64>,
    /// Pushed within this long before now.
    pub pushed_within: Option<Duration>,
    pub max_size_kb: Option<u64>,
    pub include_forks: bool,
    pub include_archived: bool,
    /// A regular expression the repository name must match.
    pub name: Option<Regex>,
}

impl RepoFilter {
    /// Whether `repo` is in the scan, with `now` in epoch seconds.
    pub fn accepts(&self, repo: &RepoInfo, now: i64) -> bool {
        if repo.fork && !self.include_forks {
            return false;
        }
        if repo.archived && !self.include_archived {
            return false;
        }
        if let Some(language) = &self.language
            && !repo
                .language
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(language))
        {
            return false;
        }
        if self
            .min_stars
            .is_some_and(|min| repo.stargazers_count < min)
        {
            return false;
        }
        if self.max_size_kb.is_some_and(|max| repo.size > max) {
            return false;
        }
        if let Some(within) = self.pushed_within {
            let pushed = repo
                .pushed_at
                .as_deref()
                .and_then(crate::remote::parse_timestamp);
            match pushed {
                Some(at) if now - at <= within.as_secs() as i64 => {}
                _ => return false,
            }
        }
        if let Some(pattern) = &self.name
            && !pattern.is_match(&repo.name)
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> RepoInfo {
        serde_json::from_value(serde_json::json!({
            "name": name, "language": "Python", "stargazers_count": 10, "size": 500,
            "pushed_at": "2026-11-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn each_filter_selects() {
        let now = crate::remote::parse_timestamp("2026-11-20T00:00:00Z").unwrap();
        let all = RepoFilter::default();
        let mut fork = repo("f");
        fork.fork = true;
        let mut archived = repo("a");
        archived.archived = true;
        assert!(all.accepts(&repo("x"), now));
        assert!(!all.accepts(&fork, now));
        assert!(!all.accepts(&archived, now));
        let with = RepoFilter {
            include_forks: true,
            include_archived: true,
            ..RepoFilter::default()
        };
        assert!(with.accepts(&fork, now) && with.accepts(&archived, now));
        let lang = RepoFilter {
            language: Some("python".into()),
            ..RepoFilter::default()
        };
        assert!(lang.accepts(&repo("x"), now));
        let mut js = repo("j");
        js.language = Some("JavaScript".into());
        assert!(!lang.accepts(&js, now));
        let stars = RepoFilter {
            min_stars: Some(11),
            ..RepoFilter::default()
        };
        assert!(!stars.accepts(&repo("x"), now));
        let size = RepoFilter {
            max_size_kb: Some(499),
            ..RepoFilter::default()
        };
        assert!(!size.accepts(&repo("x"), now));
        let recent = RepoFilter {
            pushed_within: Some(Duration::from_secs(30 * 86400)),
            ..RepoFilter::default()
        };
        assert!(recent.accepts(&repo("x"), now));
        let very_recent = RepoFilter {
            pushed_within: Some(Duration::from_secs(7 * 86400)),
            ..RepoFilter::default()
        };
        assert!(!very_recent.accepts(&repo("x"), now));
        let named = RepoFilter {
            name: Some(Regex::new("^svc-").unwrap()),
            ..RepoFilter::default()
        };
        assert!(named.accepts(&repo("svc-a"), now) && !named.accepts(&repo("lib-a"), now));
    }
}
