//! The built-in recomputes, run in Rust: `copy`, `concat` and `xor`.
//!
//! Adding a built-in: a variant of `Transform`, its name in `Transform::parse`,
//! and its computation in `Transform::compute` (with its size rule).

use crate::error::{fail, Result};
use crate::page::PageId;

/// A built-in recompute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The single parent's bytes.
    Copy,
    /// The parents' bytes end to end, in parent order.
    Concat,
    /// The byte-wise xor of all parents (all of the child's size).
    Xor,
}

impl crate::names::Named for Transform {
    const ALL: &'static [Transform] = &[Transform::Copy, Transform::Concat, Transform::Xor];
    const WHAT: &'static str = "transform";

    fn name(self) -> &'static str {
        match self {
            Transform::Copy => "copy",
            Transform::Concat => "concat",
            Transform::Xor => "xor",
        }
    }
}

impl Transform {
    /// The built-in of a name: `copy`, `concat` or `xor`.
    pub fn parse(name: &str) -> Result<Transform> {
        crate::names::parse(name, crate::ErrorCode::InvalidArgument)
    }

    /// Computes the child's new bytes from its parents' into `out` (the
    /// child's size); the error names the child.
    pub fn compute(self, child: PageId, parents: &[&[u8]], out: &mut [u8]) -> Result<()> {
        let sizes = || {
            parents
                .iter()
                .map(|parent| parent.len().to_string())
                .collect::<Vec<_>>()
                .join(" + ")
        };
        match self {
            Transform::Copy => match parents {
                [parent] if parent.len() == out.len() => out.copy_from_slice(parent),
                _ => {
                    return fail!(
                        DeltaSizeMismatch,
                        "copy into page {child} of {} bytes needs one parent of that size, has {}",
                        out.len(),
                        sizes()
                    )
                }
            },
            Transform::Concat => {
                if parents.iter().map(|parent| parent.len()).sum::<usize>() != out.len() {
                    return fail!(
                        DeltaSizeMismatch,
                        "concat into page {child} of {} bytes has parents of {}",
                        out.len(),
                        sizes()
                    );
                }
                let mut offset = 0;
                for parent in parents {
                    out[offset..offset + parent.len()].copy_from_slice(parent);
                    offset += parent.len();
                }
            }
            Transform::Xor => {
                if parents.is_empty() || parents.iter().any(|parent| parent.len() != out.len()) {
                    return fail!(
                        DeltaSizeMismatch,
                        "xor into page {child} of {} bytes needs parents of that size, has {}",
                        out.len(),
                        sizes()
                    );
                }
                out.copy_from_slice(parents[0]);
                for parent in &parents[1..] {
                    for (byte, other) in out.iter_mut().zip(parent.iter()) {
                        *byte ^= other;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_compute_and_check_sizes() {
        let mut out = [0u8; 4];
        Transform::Concat.compute(9, &[&[1, 2], &[3, 4]], &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        Transform::Xor
            .compute(9, &[&[1, 2, 3, 4], &[1, 0, 1, 0]], &mut out)
            .unwrap();
        assert_eq!(out, [0, 2, 2, 4]);
        let error = Transform::Copy.compute(9, &[&[1, 2]], &mut out).unwrap_err();
        assert!(error.message.contains("page 9"), "{}", error.message);
        assert!(Transform::Xor.compute(9, &[], &mut out).is_err());
    }
}
