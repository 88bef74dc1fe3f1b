//! The model alone, with no server: the VADER model against the Python reference's scores, and
//! its fast ASCII path against `vader-parity`.

mod fast_path;
mod python_reference;

/// A text as a failure report shows it: quoted and escaped, so whitespace-only, control and
/// invisible characters are visible, and cut to `limit` characters so long texts do not flood it.
pub fn shown(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(limit).collect();
        format!("{head:?}... ({count} chars)")
    }
}
