//! Joe & Kuo's Sobol' direction numbers `new-joe-kuo-6.21201` (search criterion D(6), 21201
//! dimensions; S. Joe and F. Y. Kuo, SIAM J. Sci. Comput. 30(5), 2008,
//! <https://web.maths.unsw.edu.au/~fkuo/sobol/>).
//!
//! The table ships in `data/joe_kuo_6_21201.bin`, a bit-packed form written by
//! `data/make_direction_numbers.py` from the copy SciPy redistributes
//! (`scipy/stats/_sobol_direction_numbers.npz`); that script documents the format. It is decoded
//! once per process.

use std::sync::OnceLock;

/// The largest number of dimensions the table covers.
pub const MAX_DIM: usize = 21201;
/// The largest degree of a primitive polynomial in the table.
pub const MAX_DEGREE: usize = 18;

static DATA: &[u8] = include_bytes!("data/joe_kuo_6_21201.bin");

/// The primitive polynomial and initial direction numbers of one dimension.
#[derive(Clone, Copy, Debug)]
pub struct Dimension {
    /// The polynomial with its leading and constant terms: degree `s` means `2**s <= poly < 2**(s+1)`.
    pub poly: u32,
    /// Its degree `s`; 0 for the first dimension, whose direction numbers are all 1.
    pub degree: u32,
    /// m_0..m_{s-1}: odd, m_j < 2**(j+1); zero past the degree.
    pub m: [u32; MAX_DEGREE],
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn take(&mut self, width: u32) -> u32 {
        let mut value = 0u32;
        for k in 0..width {
            let byte = self.bytes.get(self.pos / 8).copied().unwrap_or(0);
            value |= u32::from((byte >> (self.pos % 8)) & 1) << k;
            self.pos += 1;
        }
        value
    }
}

fn decode() -> Vec<Dimension> {
    let mut dims = Vec::with_capacity(MAX_DIM);
    dims.push(Dimension {
        poly: 1,
        degree: 0,
        m: [0; MAX_DEGREE],
    });
    // The header is checked by a unit test; a wrong file fails it rather than a user's call.
    let mut reader = BitReader {
        bytes: &DATA[8..],
        pos: 0,
    };
    for _ in 1..MAX_DIM {
        let degree = reader.take(5);
        let a = reader.take(degree.saturating_sub(1));
        let mut m = [0u32; MAX_DEGREE];
        for (j, mj) in m.iter_mut().enumerate().take(degree as usize) {
            *mj = (reader.take(j as u32) << 1) | 1;
        }
        dims.push(Dimension {
            poly: (1 << degree) | (a << 1) | 1,
            degree,
            m,
        });
    }
    dims
}

/// The decoded table, dimension 0 first.
pub fn table() -> &'static [Dimension] {
    static TABLE: OnceLock<Vec<Dimension>> = OnceLock::new();
    TABLE.get_or_init(decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_first_dimensions_match_joe_kuo() {
        assert_eq!(&DATA[..4], b"JK6\0");
        assert_eq!(
            u32::from_le_bytes([DATA[4], DATA[5], DATA[6], DATA[7]]) as usize,
            MAX_DIM
        );
        let t = table();
        assert_eq!(t.len(), MAX_DIM);
        // new-joe-kuo-6.21201, lines for d = 2, 3, 4: "2 1 0 1", "3 2 1 1 3", "4 3 1 1 3 1".
        assert_eq!((t[1].degree, t[1].poly, t[1].m[0]), (1, 0b11, 1));
        assert_eq!((t[2].degree, t[2].poly), (2, 0b111));
        assert_eq!(&t[2].m[..2], &[1, 3]);
        assert_eq!((t[3].degree, t[3].poly), (3, 0b1011));
        assert_eq!(&t[3].m[..3], &[1, 3, 1]);
        for dim in &t[1..] {
            assert!((1..=18).contains(&dim.degree));
            for j in 0..dim.degree as usize {
                assert!(dim.m[j] % 2 == 1 && dim.m[j] < 1 << (j + 1));
            }
        }
        // The last dimension has a degree-18 polynomial.
        assert_eq!(t[MAX_DIM - 1].degree, 18);
    }
}
