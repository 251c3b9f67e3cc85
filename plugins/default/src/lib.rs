//! rentops-plugin-default: the table-driven rule plugin. `init("")` uses the product defaults
//! (`RulesTable::product_default()`); `init(json)` uses the client's packaged rules table (normalized JSON,
//! validated again here). Every decision is the table-driven rule from `rentops_rules::evaluate`.
//!
//! Built for `wasm32-unknown-unknown` and componentized by `scripts/build-plugins.sh` into
//! `$CARGO_TARGET_DIR/plugins/default.wasm`; `rentops plugin build --table rules.toml` embeds a table in it.

use rentops_plugin_sdk::*;

/// The default plugin: a validated rules table.
pub struct TableRules(RulesTable);

impl Rules for TableRules {
    const NAME: &'static str = "default rules";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(table: Option<RulesTable>) -> Result<Self, String> {
        Ok(TableRules(table.unwrap_or_else(RulesTable::product_default)))
    }

    fn table(&self) -> &RulesTable {
        &self.0
    }
}

export_rules!(TableRules);
