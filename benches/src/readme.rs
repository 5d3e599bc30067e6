//! `benches/README.md` is written by several benchmarks: the ingestion
//! suite rewrites it whole, and each other benchmark owns one row of its
//! targets table and one section, which the suite carries over.

/// A benchmark's row of the targets table and its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// How its row starts.
    pub row_prefix: &'static str,
    /// Its section's heading line.
    pub heading: &'static str,
}

/// The dashboard's overview, timed (`mesure-load dashboard`).
pub const OVERVIEW: Part = Part {
    row_prefix: "| dashboard overview",
    heading: "## Dashboard overview",
};

/// The overview page's weight (`mesure-load weight`).
pub const WEIGHT: Part = Part {
    row_prefix: "| dashboard page weight",
    heading: "## Dashboard page weight",
};

/// Every part the suite carries over.
pub const PARTS: [Part; 2] = [OVERVIEW, WEIGHT];

const TARGETS: &str = "## Targets";

/// A target's verdict; a quick run's figures are not compared with it.
pub fn verdict(quick: bool, met: bool) -> &'static str {
    if quick {
        "quick run: not comparable"
    } else if met {
        "met"
    } else {
        "**not met**"
    }
}

impl Part {
    /// This part's row and section in a README, if it has them.
    pub fn of(self, readme: &str) -> Option<(String, String)> {
        let row = readme.lines().find(|l| l.starts_with(self.row_prefix))?;
        let start = readme.find(&format!("\n{}\n", self.heading))? + 1;
        let end = readme[start + 1..]
            .find("\n## ")
            .map_or(readme.len(), |i| start + 1 + i + 1);
        Some((row.to_owned(), readme[start..end].trim_end().to_owned()))
    }

    /// The README with this part's row and section put in: the row
    /// replaces the targets table's row of that name (or ends the table),
    /// the section replaces the old one (or ends the file).
    pub fn splice(self, readme: &str, row: &str, section: &str) -> String {
        let mut lines: Vec<&str> = readme.lines().collect();
        match lines.iter().position(|l| l.starts_with(self.row_prefix)) {
            Some(at) => lines[at] = row,
            None => {
                let table = lines.iter().position(|l| *l == TARGETS).map(|heading| {
                    let first = (heading + 1..lines.len())
                        .find(|&i| lines[i].starts_with('|'))
                        .unwrap_or(lines.len());
                    (first..lines.len())
                        .find(|&i| !lines[i].starts_with('|'))
                        .unwrap_or(lines.len())
                });
                if let Some(end) = table {
                    lines.insert(end, row);
                }
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        match self.of(&text) {
            Some((_, old)) => text.replacen(&old, section.trim_end(), 1),
            None => format!("{}\n\n{}\n", text.trim_end(), section.trim_end()),
        }
    }

    /// `into` with this part of `from` carried over, if `from` has it.
    pub fn carry(self, from: &str, into: &str) -> String {
        match self.of(from) {
            Some((row, section)) => self.splice(into, &row, &section),
            None => into.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = "# Benchmarks\n\n## Targets\n\n| what | target |\n| --- | --- |\n| pixel hits/s | 1 |\n| dashboard overview, not measured | |\n| site script | 2 |\n\n## Latency\n\nfigures\n";

    #[test]
    fn a_part_is_put_in_then_replaced_and_carried_over() {
        let first = OVERVIEW.splice(
            SUITE,
            "| dashboard overview, 10 ms | met |",
            "## Dashboard overview\n\nfirst\n",
        );
        assert!(
            first.contains("| dashboard overview, 10 ms | met |\n| site script | 2 |"),
            "{first}"
        );
        assert!(!first.contains("not measured"), "{first}");
        assert!(
            first.ends_with("## Latency\n\nfigures\n\n## Dashboard overview\n\nfirst\n"),
            "{first}"
        );
        let second = OVERVIEW.splice(
            &first,
            "| dashboard overview, 20 ms | met |",
            "## Dashboard overview\n\nsecond",
        );
        assert!(
            second.contains("second") && !second.contains("first"),
            "{second}"
        );
        assert_eq!(second.matches(OVERVIEW.heading).count(), 1, "{second}");
        // The suite rewrites the README; what the dashboard wrote is kept.
        assert_eq!(OVERVIEW.carry(&second, SUITE), second);
        assert_eq!(OVERVIEW.of(SUITE), None);
    }

    #[test]
    fn a_new_row_ends_the_targets_table_and_parts_do_not_mix() {
        let weighed = WEIGHT.splice(
            SUITE,
            "| dashboard page weight | 60 KB | met |",
            "## Dashboard page weight\n\nbytes\n",
        );
        assert!(
            weighed.contains(
                "| site script | 2 |\n| dashboard page weight | 60 KB | met |\n\n## Latency"
            ),
            "{weighed}"
        );
        let both = OVERVIEW.splice(
            &weighed,
            "| dashboard overview, 10 ms |",
            "## Dashboard overview\n\ntimed\n",
        );
        let rewritten = PARTS
            .iter()
            .fold(SUITE.to_owned(), |text, part| part.carry(&both, &text));
        assert_eq!(WEIGHT.of(&rewritten), WEIGHT.of(&both));
        assert_eq!(OVERVIEW.of(&rewritten), OVERVIEW.of(&both));
        assert!(
            rewritten.contains("bytes") && rewritten.contains("timed"),
            "{rewritten}"
        );
    }
}
