//! SQL text from fixed fragments, and values bound apart: a query's text
//! never holds anything a request sent.

use clickhouse::Client;
use serde_json::{Map, Value};

/// A value bound to a `?` of the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Texts(Vec<String>),
}

/// SQL text with its `?` placeholders and their values, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends fixed text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends fixed text holding one `?`, and its value.
    pub fn bind(&mut self, text: &str, param: Param) -> &mut Sql {
        debug_assert_eq!(text.matches('?').count(), 1, "{text}");
        self.text.push_str(text);
        self.params.push(param);
        self
    }

    /// Appends another statement's text and values.
    pub fn append(&mut self, other: &Sql) -> &mut Sql {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
        self
    }

    fn bound(&self, client: &Client) -> clickhouse::query::Query {
        let mut query = client.query(&self.text);
        for param in &self.params {
            query = match param {
                Param::Text(text) => query.bind(text.as_str()),
                Param::Int(n) => query.bind(*n),
                Param::Texts(texts) => query.bind(texts.as_slice()),
            };
        }
        query
    }

    /// Runs a statement that returns nothing (an `INSERT ... SELECT`),
    /// waiting on a cluster until its rows reach their shards.
    pub async fn execute(&self, client: &Client) -> Result<(), clickhouse::error::Error> {
        let started = std::time::Instant::now();
        self.bound(client)
            .with_setting("distributed_foreground_insert", "1")
            .execute()
            .await?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            sql = %self.text,
            "statement"
        );
        Ok(())
    }

    /// Runs the statement and reads its rows as JSON objects.
    pub async fn rows(
        &self,
        client: &Client,
    ) -> Result<Vec<Map<String, Value>>, clickhouse::error::Error> {
        let started = std::time::Instant::now();
        let bytes = self
            .bound(client)
            .with_setting("output_format_json_quote_64bit_integers", "0")
            .fetch_bytes("JSONEachRow")?
            .collect()
            .await?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1000.0,
            bytes = bytes.len(),
            sql = %self.text,
            "statement"
        );
        bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line)
                    .map_err(|e| clickhouse::error::Error::Custom(format!("unreadable row: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_values_stay_apart() {
        let mut sql = Sql::new("SELECT 1 FROM events WHERE ");
        sql.bind("site_id = ?", Param::Text("x' OR 1 = 1 --".into()))
            .push(" AND ")
            .bind("path IN ?", Param::Texts(vec!["/a".into()]));
        assert_eq!(
            sql.text,
            "SELECT 1 FROM events WHERE site_id = ? AND path IN ?"
        );
        assert_eq!(sql.params.len(), 2);
    }
}
