//! Each figure beside the reference's: rows measured on alerthub and on the
//! reference server in the same run are paired by their figure's name, and
//! the headline numbers give the ratio alerthub ÷ reference.

use std::fmt::Write;

use super::{Headline, Row, cell};

/// One figure on alerthub and, when measured, on the reference.
pub struct Pair<'a> {
    pub alerthub: &'a Row,
    pub reference: Option<&'a Row>,
}

/// Pairs rows by figure name, in alerthub's order.
pub fn pair<'a>(alerthub: &'a [Row], reference: &'a [Row]) -> Vec<Pair<'a>> {
    alerthub
        .iter()
        .map(|a| Pair {
            alerthub: a,
            reference: reference.iter().find(|r| r.figure == a.figure),
        })
        .collect()
}

/// alerthub ÷ reference, for numbers of the same unit.
pub fn ratio(alerthub: &Headline, reference: &Headline) -> Option<f64> {
    (alerthub.unit == reference.unit && reference.value > 0.0 && alerthub.value >= 0.0)
        .then(|| alerthub.value / reference.value)
}

fn headline(row: Option<&Row>) -> String {
    match row {
        None => "not run".into(),
        Some(r) => match (&r.headline, &r.verdict) {
            (Some(h), _) => h.to_string(),
            (None, super::Verdict::Failed(why)) => format!("failed: {why}"),
            (None, _) => "-".into(),
        },
    }
}

/// The summary: figure, target, alerthub, reference, ratio, verdict.
pub fn summary(pairs: &[Pair]) -> String {
    let mut out = String::from(
        "| figure | target | alerthub | reference | alerthub ÷ reference | verdict (alerthub) |\n|---|---|---|---|---|---|\n",
    );
    for p in pairs {
        let ratio = match (
            &p.alerthub.headline,
            p.reference.and_then(|r| r.headline.as_ref()),
        ) {
            (Some(a), Some(r)) => ratio(a, r).map_or("-".into(), |x| format!("{x:.2}×")),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&p.alerthub.figure),
            cell(&p.alerthub.target),
            cell(&headline(Some(p.alerthub))),
            cell(&headline(p.reference)),
            ratio,
            cell(&p.alerthub.verdict.label()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Unit, Verdict};

    #[test]
    fn rows_pair_by_figure_and_ratios_divide() {
        let a = vec![
            Row::new("RSS per idle socket", "≤ 6 KiB", "..", Verdict::NotMet)
                .headline(12.0, Unit::KibPerSocket),
            Row::new("handshakes", "≥ 10,000/s", "..", Verdict::Met)
                .headline(10_000.0, Unit::PerSecond),
            Row::failed("replay", "≤ 50 ms", "timed out"),
        ];
        let r = vec![
            Row::new("handshakes", "", "..", Verdict::Info).headline(20_000.0, Unit::PerSecond),
            Row::new("RSS per idle socket", "", "..", Verdict::Info)
                .headline(4.0, Unit::KibPerSocket),
        ];
        let pairs = pair(&a, &r);
        assert_eq!(pairs.len(), 3);
        assert_eq!(
            pairs[0].reference.map(|r| r.figure.as_str()),
            Some("RSS per idle socket")
        );
        assert!(pairs[2].reference.is_none());
        let t = summary(&pairs);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[2],
            "| RSS per idle socket | ≤ 6 KiB | 12.00 KiB | 4.00 KiB | 3.00× | NOT MET |"
        );
        assert_eq!(
            lines[3],
            "| handshakes | ≥ 10,000/s | 10,000/s | 20,000/s | 0.50× | met |"
        );
        assert_eq!(
            lines[4],
            "| replay | ≤ 50 ms | failed: timed out | not run | - | failed: timed out |"
        );
    }

    #[test]
    fn ratios_need_the_same_unit_and_a_positive_reference() {
        let h = |v, u| Headline::new(v, u).unwrap();
        assert_eq!(ratio(&h(3.0, Unit::Ms), &h(1.5, Unit::Ms)), Some(2.0));
        assert_eq!(ratio(&h(3.0, Unit::Ms), &h(0.0, Unit::Ms)), None);
        assert_eq!(ratio(&h(3.0, Unit::Ms), &h(1.0, Unit::Seconds)), None);
    }
}
