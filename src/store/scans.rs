//! Index rows for org scans: per-repo results by commit, and the resume log of a run.
//!
//! A run's rows in `scan_repos` are written as each repo finishes, so a scan killed at any
//! point (even kill -9) resumes from them: repos already done in the interrupted run are
//! not scanned again, and every finished result is already in `repo_patterns`.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::error::StoreError;
use super::index::Index;
use crate::clock::now;
use crate::oid::Sha;

/// The state of an org's latest scan run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScanRow {
    pub org: String,
    pub run: i64,
    /// `running` (or interrupted), `finished`.
    pub state: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub total: u64,
    pub requests: u64,
    pub offline: bool,
}

/// One repository's outcome in the current run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RepoScanRow {
    pub repo: String,
    /// `done` or `failed`.
    pub state: String,
    pub commit: Option<String>,
    pub error: Option<String>,
    /// The result came from the cache (the repo did not change).
    pub cached: bool,
}

impl Index {
    pub fn put_repo_patterns(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
        version: u32,
        patterns: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO repo_patterns (owner, repo, commit_sha, version, patterns, scanned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![owner.to_ascii_lowercase(), repo.to_ascii_lowercase(), commit.to_hex(), version, patterns, now()],
        )?;
        Ok(())
    }

    /// A stored result for this exact commit and extractor version, and when it was made.
    pub fn repo_patterns(
        &self,
        owner: &str,
        repo: &str,
        commit: Sha,
        version: u32,
    ) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT patterns, scanned_at FROM repo_patterns
                 WHERE owner = ?1 AND repo = ?2 AND commit_sha = ?3 AND version = ?4",
                params![
                    owner.to_ascii_lowercase(),
                    repo.to_ascii_lowercase(),
                    commit.to_hex(),
                    version
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Starts a run for `org`, or resumes the interrupted one. Returns (run, resumed).
    pub fn begin_scan(&self, org: &str, options: &str) -> Result<(i64, bool), StoreError> {
        let org = org.to_ascii_lowercase();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let previous: Option<(i64, String)> = tx
            .query_row(
                "SELECT run, state FROM scans WHERE org = ?1",
                params![org],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let result = match previous {
            Some((run, state)) if state == "running" => {
                tx.execute(
                    "UPDATE scans SET options = ?2 WHERE org = ?1",
                    params![org, options],
                )?;
                (run, true)
            }
            previous => {
                let run = previous.map_or(1, |(run, _)| run + 1);
                tx.execute("DELETE FROM scan_repos WHERE org = ?1", params![org])?;
                tx.execute(
                    "INSERT OR REPLACE INTO scans (org, run, state, started_at, finished_at, total, requests, offline, options)
                     VALUES (?1, ?2, 'running', ?3, NULL, 0, 0, 0, ?4)",
                    params![org, run, now(), options],
                )?;
                (run, false)
            }
        };
        tx.commit()?;
        Ok(result)
    }

    pub fn set_scan_total(&self, org: &str, total: u64, offline: bool) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE scans SET total = ?2, offline = ?3 WHERE org = ?1",
            params![org.to_ascii_lowercase(), total as i64, offline],
        )?;
        Ok(())
    }

    pub fn add_scan_requests(&self, org: &str, requests: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE scans SET requests = requests + ?2 WHERE org = ?1",
            params![org.to_ascii_lowercase(), requests as i64],
        )?;
        Ok(())
    }

    pub fn finish_scan(&self, org: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE scans SET state = 'finished', finished_at = ?2 WHERE org = ?1",
            params![org.to_ascii_lowercase(), now()],
        )?;
        Ok(())
    }

    pub fn record_repo_scan(
        &self,
        org: &str,
        run: i64,
        row: &RepoScanRow,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO scan_repos (org, repo, run, state, commit_sha, error, cached, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![org.to_ascii_lowercase(), row.repo, run, row.state, row.commit, row.error, row.cached, now()],
        )?;
        Ok(())
    }

    pub fn scan(&self, org: &str) -> Result<Option<ScanRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT org, run, state, started_at, finished_at, total, requests, offline FROM scans WHERE org = ?1",
                params![org.to_ascii_lowercase()],
                |r| {
                    Ok(ScanRow {
                        org: r.get(0)?,
                        run: r.get(1)?,
                        state: r.get(2)?,
                        started_at: r.get(3)?,
                        finished_at: r.get(4)?,
                        total: r.get::<_, i64>(5)? as u64,
                        requests: r.get::<_, i64>(6)? as u64,
                        offline: r.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    /// Orgs with a scan, for `ls /.patterns`.
    pub fn scanned_orgs(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare("SELECT org FROM scans ORDER BY org")?;
        let rows = query.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The outcome of every repo in the org's current run, by name.
    pub fn repo_scans(&self, org: &str) -> Result<Vec<RepoScanRow>, StoreError> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT repo, state, commit_sha, error, cached FROM scan_repos WHERE org = ?1 ORDER BY repo",
        )?;
        let rows = query.query_map(params![org.to_ascii_lowercase()], |r| {
            Ok(RepoScanRow {
                repo: r.get(0)?,
                state: r.get(1)?,
                commit: r.get(2)?,
                error: r.get(3)?,
                cached: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::oid::blob_sha;
    use crate::store::{RepoScanRow, Store};

    #[test]
    fn runs_resume_until_finished_and_results_are_keyed_by_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let index = store.index();
        let (run, resumed) = index.begin_scan("Acme", "{}").unwrap();
        assert_eq!((run, resumed), (1, false));
        let row = RepoScanRow {
            repo: "api".into(),
            state: "done".into(),
            commit: Some("c".into()),
            error: None,
            cached: false,
        };
        index.record_repo_scan("acme", run, &row).unwrap();
        // Interrupted: the next begin resumes the same run and keeps its rows.
        assert_eq!(index.begin_scan("acme", "{}").unwrap(), (1, true));
        assert_eq!(index.repo_scans("acme").unwrap(), [row]);
        index.finish_scan("acme").unwrap();
        // Finished: the next begin is a new run with a clean log.
        assert_eq!(index.begin_scan("acme", "{}").unwrap(), (2, false));
        assert!(index.repo_scans("acme").unwrap().is_empty());
        assert_eq!(index.scanned_orgs().unwrap(), ["acme"]);

        let commit = blob_sha(b"commit");
        index
            .put_repo_patterns("acme", "api", commit, 1, "{\"x\":1}")
            .unwrap();
        assert_eq!(
            index
                .repo_patterns("acme", "API", commit, 1)
                .unwrap()
                .unwrap()
                .0,
            "{\"x\":1}"
        );
        assert!(
            index
                .repo_patterns("acme", "api", commit, 2)
                .unwrap()
                .is_none()
        );
        assert!(
            index
                .repo_patterns("acme", "api", blob_sha(b"other"), 1)
                .unwrap()
                .is_none()
        );
    }
}
