//! Filters: `[operator, dimension, [values]]`, all of a query's combined
//! with `and`. A row matches a filter when any of its values matches.

use super::fields::Dimension;
use super::sql::{Param, Sql};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    DoesNotContain,
}

impl Operator {
    pub fn parse(name: &str) -> Option<Operator> {
        match name {
            "is" => Some(Operator::Is),
            "is_not" => Some(Operator::IsNot),
            "contains" => Some(Operator::Contains),
            "does_not_contain" | "contains_not" => Some(Operator::DoesNotContain),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Operator::Is => "is",
            Operator::IsNot => "is_not",
            Operator::Contains => "contains",
            Operator::DoesNotContain => "does_not_contain",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub operator: Operator,
    pub dimension: Dimension,
    pub values: Vec<String>,
}

/// Most values in one filter, and the longest value.
pub const MAX_VALUES: usize = 100;
pub const MAX_VALUE: usize = 2048;

impl Filter {
    /// The condition on the value `column` (a fixed expression).
    pub fn condition(&self, column: &str) -> Sql {
        let mut sql = Sql::default();
        match self.operator {
            Operator::Is | Operator::IsNot => {
                if self.operator == Operator::IsNot {
                    sql.push("NOT ");
                }
                sql.bind(
                    &format!("has(?, {column})"),
                    Param::Texts(self.values.clone()),
                );
            }
            Operator::Contains | Operator::DoesNotContain => {
                if self.operator == Operator::DoesNotContain {
                    sql.push("NOT ");
                }
                sql.push("(");
                for (i, value) in self.values.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.bind(
                        &format!("positionUTF8({column}, ?) > 0"),
                        Param::Text(value.clone()),
                    );
                }
                sql.push(")");
            }
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_bind_every_value() {
        let filter = Filter {
            operator: Operator::DoesNotContain,
            dimension: Dimension::Page,
            values: vec!["/a".into(), "') OR 1=1 --".into()],
        };
        let sql = filter.condition("path");
        assert_eq!(
            sql.text,
            "NOT (positionUTF8(path, ?) > 0 OR positionUTF8(path, ?) > 0)"
        );
        assert_eq!(sql.params.len(), 2);
        let is = Filter {
            operator: Operator::Is,
            dimension: Dimension::Country,
            values: vec!["FR".into()],
        };
        assert_eq!(is.condition("country_code").text, "has(?, country_code)");
    }
}
