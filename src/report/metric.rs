//! Which evaluation of a run is its score (`--metric`).

/// Which evaluation of a run counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The last evaluation (at the final step).
    Final,
    /// The best evaluation during training.
    Best,
    /// The mean of the last k evaluations.
    LastK(usize),
}

pub const DEFAULT_LAST_K: usize = 5;

impl std::str::FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "final" => Ok(Metric::Final),
            "best" => Ok(Metric::Best),
            "last-k" => Ok(Metric::LastK(DEFAULT_LAST_K)),
            _ => match s
                .strip_prefix("last-")
                .and_then(|k| k.parse::<usize>().ok())
            {
                Some(k) if k > 0 => Ok(Metric::LastK(k)),
                _ => Err(format!(
                    "unknown metric '{s}': use final, best, last-k (k = {DEFAULT_LAST_K}) or last-N"
                )),
            },
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::Final => write!(f, "final"),
            Metric::Best => write!(f, "best"),
            Metric::LastK(k) => write!(f, "last-{k}"),
        }
    }
}

impl Metric {
    pub(super) fn describe(&self) -> String {
        match self {
            Metric::Final => "final evaluation".into(),
            Metric::Best => "best evaluation during training".into(),
            Metric::LastK(k) => format!("mean of the last {k} evaluations"),
        }
    }

    /// The value of a run's evaluations (step, score), oldest first, non-empty.
    pub fn of(&self, evals: &[(u64, f64)]) -> f64 {
        match self {
            Metric::Final => evals.last().map(|e| e.1).unwrap_or(f64::NAN),
            Metric::Best => evals.iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max),
            Metric::LastK(k) => {
                let tail = &evals[evals.len().saturating_sub(*k)..];
                tail.iter().map(|e| e.1).sum::<f64>() / tail.len() as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_pick_the_right_evaluations() {
        let e = [(1, 10.0), (2, 50.0), (3, 20.0), (4, 30.0)];
        assert_eq!(Metric::Final.of(&e), 30.0);
        assert_eq!(Metric::Best.of(&e), 50.0);
        assert_eq!(Metric::LastK(2).of(&e), 25.0);
        assert_eq!(Metric::LastK(9).of(&e), 27.5);
        assert_eq!("last-3".parse::<Metric>().unwrap(), Metric::LastK(3));
        assert_eq!(
            "last-k".parse::<Metric>().unwrap(),
            Metric::LastK(DEFAULT_LAST_K)
        );
        assert!("last-0".parse::<Metric>().is_err() && "mean".parse::<Metric>().is_err());
    }
}
