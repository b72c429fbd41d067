//! Stable wire names of the core's enums, validated in one place.
//!
//! Every enum a caller names by string (locations, edge kinds, delta
//! sources, recovery modes, counters, ...) lists its values once, with their
//! names; parsing and the lists the bindings export (so TypeScript validates
//! against the same names) both come from that list.

/// An enum whose values have stable names on the wire.
pub trait Named: Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// What the values are called in messages ("delta source").
    const WHAT: &'static str;

    fn name(self) -> &'static str;

    /// The value called `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.name() == name)
    }

    /// The names, in declaration order.
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|value| value.name()).collect()
    }

    /// "expected \"a\", \"b\" or \"c\"", for error messages.
    fn expected() -> String {
        let quoted: Vec<String> = Self::ALL.iter().map(|value| format!("{:?}", value.name())).collect();
        match quoted.split_last() {
            Some((last, [])) => format!("expected {last}"),
            Some((last, rest)) => format!("expected {} or {last}", rest.join(", ")),
            None => "expected nothing".to_owned(),
        }
    }
}

/// Parses `name` as a `T`, or fails with `code` naming the choices.
pub fn parse<T: Named>(name: &str, code: crate::ErrorCode) -> crate::Result<T> {
    T::from_name(name)
        .ok_or_else(|| crate::Error::new(code, format!("unknown {} {name:?}: {}", T::WHAT, T::expected())))
}
