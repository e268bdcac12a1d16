//! The priority matrix (GLPI's): urgency 1–5 × impact 1–5 gives a priority
//! 1–6 (6 = major). Priority follows urgency and impact unless it was set
//! explicitly, after which it stays as set until set again. Pure.

use serde::Serialize;

/// Urgency and impact of a ticket that nobody has classified yet.
pub const DEFAULT_LEVEL: u8 = 3;

/// Priority by urgency (rows) and impact (columns), both 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matrix([[u8; 5]; 5]);

impl Default for Matrix {
    /// GLPI's shipped matrix (`priority_matrix` in its default
    /// configuration): it never gives 6 (major) on its own.
    fn default() -> Matrix {
        Matrix([
            [1, 1, 2, 2, 2],
            [1, 2, 2, 3, 3],
            [2, 2, 3, 4, 4],
            [2, 3, 4, 4, 5],
            [2, 3, 4, 5, 5],
        ])
    }
}

impl Matrix {
    /// A matrix from configuration: 5 rows (urgency 1–5) of 5 priorities
    /// (impact 1–5), each 1–6. The error says what is wrong and where.
    pub fn from_rows(rows: &[Vec<u8>]) -> Result<Matrix, String> {
        if rows.len() != 5 {
            return Err(format!(
                "expected 5 rows (urgency 1 to 5), found {}",
                rows.len()
            ));
        }
        let mut m = [[0u8; 5]; 5];
        for (u, row) in rows.iter().enumerate() {
            if row.len() != 5 {
                return Err(format!(
                    "row {} (urgency {}) has {} values; expected 5 (impact 1 to 5)",
                    u,
                    u + 1,
                    row.len()
                ));
            }
            for (i, &p) in row.iter().enumerate() {
                if !(1..=6).contains(&p) {
                    return Err(format!(
                        "urgency {} × impact {}: priority {p} is not between 1 and 6",
                        u + 1,
                        i + 1
                    ));
                }
                m[u][i] = p;
            }
        }
        Ok(Matrix(m))
    }

    /// The priority for `urgency` × `impact` (each clamped to 1–5).
    pub fn priority(&self, urgency: u8, impact: u8) -> u8 {
        let at = |v: u8| usize::from(v.clamp(1, 5) - 1);
        self.0[at(urgency)][at(impact)]
    }
}

/// A ticket's urgency, impact and priority, and whether the priority was
/// set explicitly (then urgency and impact no longer move it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub urgency: u8,
    pub impact: u8,
    pub priority: u8,
    pub priority_explicit: bool,
}

impl Classification {
    /// An unclassified ticket: default urgency and impact, priority from
    /// the matrix.
    pub fn new(matrix: &Matrix) -> Classification {
        Classification {
            urgency: DEFAULT_LEVEL,
            impact: DEFAULT_LEVEL,
            priority: matrix.priority(DEFAULT_LEVEL, DEFAULT_LEVEL),
            priority_explicit: false,
        }
    }

    fn follow(&mut self, matrix: &Matrix) {
        if !self.priority_explicit {
            self.priority = matrix.priority(self.urgency, self.impact);
        }
    }

    /// Set the urgency (1–5); the priority follows unless set explicitly.
    pub fn set_urgency(&mut self, urgency: u8, matrix: &Matrix) {
        self.urgency = urgency.clamp(1, 5);
        self.follow(matrix);
    }

    /// Set the impact (1–5); the priority follows unless set explicitly.
    pub fn set_impact(&mut self, impact: u8, matrix: &Matrix) {
        self.impact = impact.clamp(1, 5);
        self.follow(matrix);
    }

    /// Set the priority (1–6) explicitly.
    pub fn set_priority(&mut self, priority: u8) {
        self.priority = priority.clamp(1, 6);
        self.priority_explicit = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: &Matrix, urgency: u8, impact: u8, expected: u8) {
        assert_eq!(m.priority(urgency, impact), expected, "{urgency}×{impact}");
    }

    #[test]
    fn glpi_default_matrix() {
        let m = Matrix::default();
        check(&m, 1, 1, 1);
        check(&m, 3, 3, 3);
        check(&m, 5, 5, 5);
        check(&m, 5, 1, 2);
        check(&m, 1, 5, 2);
        check(&m, 4, 3, 4);
        check(&m, 2, 4, 3);
        // The default for a new ticket is the old fixed priority.
        assert_eq!(Classification::new(&m).priority, 3);
    }

    #[test]
    fn matrix_from_configuration() {
        let mut rows = vec![vec![1, 2, 3, 4, 5]; 5];
        rows[4][4] = 6;
        let m = Matrix::from_rows(&rows).unwrap();
        check(&m, 5, 5, 6);
        check(&m, 2, 3, 3);
        assert!(Matrix::from_rows(&rows[..4])
            .unwrap_err()
            .contains("5 rows"));
        rows[1] = vec![1, 2];
        assert!(Matrix::from_rows(&rows).unwrap_err().contains("urgency 2"));
        rows[1] = vec![1, 2, 7, 1, 1];
        assert!(Matrix::from_rows(&rows)
            .unwrap_err()
            .contains("urgency 2 × impact 3"));
    }

    #[test]
    fn priority_follows_urgency_and_impact_until_set_explicitly() {
        let m = Matrix::default();
        let mut c = Classification::new(&m);
        c.set_urgency(5, &m);
        assert_eq!(c.priority, 4);
        c.set_impact(5, &m);
        assert_eq!(c.priority, 5);
        c.set_priority(6);
        assert!(c.priority_explicit);
        c.set_urgency(1, &m);
        c.set_impact(1, &m);
        assert_eq!((c.urgency, c.impact, c.priority), (1, 1, 6));
        // Out-of-range values are clamped, never a panic.
        c.set_urgency(0, &m);
        c.set_priority(9);
        assert_eq!((c.urgency, c.priority), (1, 6));
    }
}
