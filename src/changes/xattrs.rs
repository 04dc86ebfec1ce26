//! Extended attributes of a layer's nodes (`user.*`, set by tools on local files), in the
//! layer's index beside the node; they go with it.

use rusqlite::{OptionalExtension, params};

use super::entry::NodeId;
use super::error::Result;
use super::layer::Layer;
use super::sql::Cached;

impl Layer {
    pub fn xattr(&self, node: NodeId, name: &str) -> Result<Option<Vec<u8>>> {
        let state = self.state();
        Ok(state
            .conn
            .row(
                "SELECT value FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn xattr_names(&self, node: NodeId) -> Result<Vec<String>> {
        let state = self.state();
        let mut query = state
            .conn
            .prepare("SELECT name FROM xattrs WHERE node = ?1 ORDER BY name")?;
        let names = query
            .query_map([node], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?;
        Ok(names)
    }

    /// Sets (`Some`) or removes (`None`) an extended attribute. Returns whether it existed.
    pub fn set_xattr(&self, node: NodeId, name: &str, value: Option<&[u8]>) -> Result<bool> {
        let state = self.state();
        let existed = state
            .conn
            .row(
                "SELECT 1 FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        match value {
            Some(value) => state.conn.exec(
                "INSERT OR REPLACE INTO xattrs VALUES (?1, ?2, ?3)",
                params![node, name, value],
            )?,
            None => state.conn.exec(
                "DELETE FROM xattrs WHERE node = ?1 AND name = ?2",
                params![node, name],
            )?,
        };
        Ok(existed)
    }
}
