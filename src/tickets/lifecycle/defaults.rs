//! The shipped lifecycle: the Moodle tracker's states with a category
//! each, and a strict matrix in the spirit of its strict workflow (work
//! moves forward through resolving and testing; a closed ticket only
//! reopens).

use super::{Category, Matrix, Role, StateDef};

/// The Moodle tracker's states, in its order.
pub fn moodle_states() -> Vec<StateDef> {
    use Category::*;
    [
        ("posted", New, false),
        ("open", Open, false),
        ("resolving", Open, false),
        ("waiting", Pending, false),
        ("resolved", Closed, false),
        ("abandoned", Closed, true),
        ("testing", Open, false),
        ("published", Closed, false),
        ("validated", Closed, true),
        ("transferred", Closed, true),
    ]
    .into_iter()
    .map(|(name, category, is_final)| StateDef {
        name: name.into(),
        category,
        is_final,
    })
    .collect()
}

/// Strict mode's moves for agents (the assigned agent uses the same row).
pub fn strict_matrix() -> Matrix {
    let rows: [(&str, &[&str]); 10] = [
        (
            "posted",
            &["open", "resolving", "waiting", "abandoned", "transferred"],
        ),
        (
            "open",
            &[
                "resolving",
                "waiting",
                "testing",
                "resolved",
                "abandoned",
                "transferred",
            ],
        ),
        (
            "resolving",
            &["open", "waiting", "testing", "resolved", "abandoned"],
        ),
        ("waiting", &["open", "resolving", "resolved", "abandoned"]),
        ("testing", &["resolving", "resolved", "open"]),
        ("resolved", &["open", "published", "validated"]),
        ("published", &["validated", "open"]),
        ("validated", &["open"]),
        ("abandoned", &["open"]),
        ("transferred", &["open"]),
    ];
    let agent = rows
        .into_iter()
        .map(|(from, tos)| {
            (
                from.to_string(),
                tos.iter().map(|t| t.to_string()).collect(),
            )
        })
        .collect();
    Matrix::from([(Role::Agent, agent)])
}
