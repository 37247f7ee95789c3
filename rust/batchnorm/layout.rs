//! How an input of shape (N, C, d1, ..., dk) is seen by the kernels: N samples of C channels of
//! S = d1·…·dk contiguous values (S = 1 for an (N, C) input, whose channels are innermost).

use crate::error::{Error, Result};

/// The (N, C, S) view of a C-contiguous input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Samples: the first dimension.
    pub n: usize,
    /// Channels: the second dimension.
    pub c: usize,
    /// Values per (sample, channel): the product of the spatial dimensions, 1 for 2-D input.
    pub s: usize,
}

/// Formats a shape the way numpy prints it: `(2, 3)`, `(5,)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

impl Layout {
    /// The layout of an array of `shape`, named `name` in errors. Refuses fewer than 2
    /// dimensions and empty arrays.
    pub fn new(name: &str, shape: &[usize]) -> Result<Layout> {
        if shape.len() < 2 {
            return Err(Error::Shape(format!(
                "{name} must have at least 2 dimensions (N, C, ...), got shape {}",
                shape_str(shape)
            )));
        }
        let s = shape[2..]
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        let total = s.and_then(|s| s.checked_mul(shape[0])?.checked_mul(shape[1]));
        match (s, total) {
            (Some(_), Some(0)) => Err(Error::Shape(format!(
                "{name} must not be empty, got shape {}",
                shape_str(shape)
            ))),
            (Some(s), Some(_)) => Ok(Layout {
                n: shape[0],
                c: shape[1],
                s,
            }),
            _ => Err(Error::Shape(format!(
                "{name} is too large, got shape {}",
                shape_str(shape)
            ))),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.n * self.c * self.s
    }

    /// Never true for a layout made by [`Layout::new`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length of the contiguous runs the kernels write: a (sample, channel) row of S
    /// values, or for (N, C) a sample's C values.
    pub fn row_len(&self) -> usize {
        if self.s == 1 { self.c } else { self.s }
    }

    /// M = N·S, the number of values each channel's statistics are taken over.
    pub fn per_channel(&self) -> usize {
        self.n * self.s
    }

    /// Checks that a per-element buffer named `name` has this layout's length.
    pub fn check_len(&self, name: &str, len: usize) -> Result<()> {
        if len != self.len() {
            return Err(Error::Shape(format!(
                "{name} must have {} elements like x, got {len}",
                self.len()
            )));
        }
        Ok(())
    }

    /// Checks that a per-channel vector named `name` has C entries.
    pub fn check_channels(&self, name: &str, len: usize) -> Result<()> {
        if len != self.c {
            return Err(Error::Shape(format!(
                "{name} must have shape ({},) to match x's {} channels, got ({len},)",
                self.c, self.c
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_map_to_n_c_s() {
        let l = Layout::new("x", &[4, 3]).unwrap();
        assert_eq!((l.n, l.c, l.s, l.per_channel()), (4, 3, 1, 4));
        let l = Layout::new("x", &[2, 3, 5, 7, 1]).unwrap();
        assert_eq!((l.n, l.c, l.s, l.len()), (2, 3, 35, 210));
    }

    #[test]
    fn bad_shapes_are_refused_with_the_shape_in_the_message() {
        let err = Layout::new("x", &[5]).unwrap_err();
        assert_eq!(
            err,
            Error::Shape("x must have at least 2 dimensions (N, C, ...), got shape (5,)".into())
        );
        assert!(
            matches!(Layout::new("x", &[0, 3, 2]), Err(Error::Shape(m)) if m.contains("(0, 3, 2)"))
        );
        assert!(Layout::new("x", &[usize::MAX, 3, 2]).is_err());
    }
}
