//! The two passes over the channels of an (N, C, S) input (S > 1), a block of channels at a time.
//!
//! Training must know a channel's sums before it writes any of that channel's outputs, so each
//! channel is read twice: from memory for the sums, then from cache for the outputs. A task
//! takes a block of consecutive channels: one sample's rows of the block are contiguous in
//! memory, so the first pass reads long runs instead of one S-long row per jump, and a block is
//! small enough to be still in cache for its second pass. On the development machine the
//! float32 training forward pass took 0.69-0.87x the time of one channel per task on
//! (32, 64, 56, 56) and (16, 128, 28, 28, 3), 0.88-1.0x on (160, 64, 56, 56)
//! (`benches/README.md`).
//!
//! Results do not depend on the cut: each channel's rows are added in sample order by the same
//! code whatever block or thread the channel falls in.

use std::ops::Range;

use super::layout::Layout;
use super::plan;
use crate::error::Result;
use crate::threads;

/// The most bytes a block's rows span, summed over the arrays the first pass reads: one block
/// per thread stays in L2 and the thread's share of L3 between the two passes.
pub const BLOCK_BYTES: usize = 4 << 20;

/// With several threads, the fewest blocks per thread (see [`ChannelBlocks::new`]).
pub const TASKS_PER_THREAD: usize = 4;

/// How the channels of an (N, C, S) input are cut into blocks of consecutive channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelBlocks {
    /// Channels per block (the last block may have fewer).
    pub block: usize,
}

impl ChannelBlocks {
    /// The cut of `l` for `arrays` arrays of `elem_bytes`-byte elements read by the first pass:
    /// blocks of at most [`BLOCK_BYTES`] (and at least one channel), as many as it takes
    /// rounded up to a multiple of `threads` so the threads get equal shares, and with several
    /// threads at least [`TASKS_PER_THREAD`] per thread: a thread that starts late (its core
    /// busy with other work) then leaves a small block, not half the input, for the others.
    pub fn new(l: Layout, elem_bytes: usize, arrays: usize, threads: usize) -> ChannelBlocks {
        let channel_bytes = (l.per_channel() * elem_bytes * arrays).max(1);
        let per_block = (BLOCK_BYTES / channel_bytes).max(1);
        let threads = threads.max(1);
        let fewest = if threads > 1 {
            TASKS_PER_THREAD * threads
        } else {
            1
        };
        let blocks =
            l.c.div_ceil(per_block)
                .max(fewest)
                .next_multiple_of(threads);
        ChannelBlocks {
            block: l.c.div_ceil(blocks.min(l.c)).max(1),
        }
    }

    /// The number of blocks of `c` channels.
    pub fn count(&self, c: usize) -> usize {
        c.div_ceil(self.block)
    }

    /// The channels of block `b` of `c` channels.
    pub fn channels(&self, b: usize, c: usize) -> Range<usize> {
        (b * self.block).min(c)..((b + 1) * self.block).min(c)
    }
}

/// One channel's two passes, for [`two_passes`]. A row is given by the index of its first
/// element in the (N, C, S) array; each is S long.
pub struct Passes<First, Finish, Second> {
    /// Adds row `start` of channel `ch` to the channel's accumulator.
    pub first: First,
    /// Turns channel `ch`'s accumulator into what its second pass needs (and the caller gets).
    pub finish: Finish,
    /// Writes the outputs of row `start` of channel `ch`.
    pub second: Second,
}

/// Runs `passes` over every channel of `l`, a block of channels per task, and returns what
/// `finish` made of each channel, in channel order. `elem_bytes` and `arrays` describe what the
/// first pass reads.
pub fn two_passes<A, R, First, Finish, Second>(
    l: Layout,
    elem_bytes: usize,
    arrays: usize,
    passes: Passes<First, Finish, Second>,
) -> Result<Vec<R>>
where
    A: Default,
    R: Send,
    First: Fn(usize, usize, &mut A) + Sync,
    Finish: Fn(usize, A) -> R + Sync,
    Second: Fn(usize, usize, &R) + Sync,
{
    let parallel = plan::is_parallel(l.len());
    let threads = if parallel { threads::num_threads()? } else { 1 };
    let cut = ChannelBlocks::new(l, elem_bytes, arrays, threads);
    let Passes {
        first,
        finish,
        second,
    } = &passes;
    let row = |i: usize, ch: usize| (i * l.c + ch) * l.s;
    let per_block = plan::map_tasks(parallel, cut.count(l.c), |b| {
        let chans = cut.channels(b, l.c);
        let mut acc: Vec<A> = chans.clone().map(|_| A::default()).collect();
        for i in 0..l.n {
            for (ch, a) in chans.clone().zip(&mut acc) {
                first(ch, row(i, ch), a);
            }
        }
        let ready: Vec<R> = chans
            .clone()
            .zip(acc)
            .map(|(ch, a)| finish(ch, a))
            .collect();
        // Backwards: the rows read last are the likeliest still in L2.
        for i in (0..l.n).rev() {
            for (ch, coef) in chans.clone().zip(&ready) {
                second(ch, row(i, ch), coef);
            }
        }
        ready
    })?;
    Ok(per_block.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_fit_the_budget_and_share_evenly() {
        // 32 samples of 3136 float32 values: 401 KB a channel, 8 blocks of 8 channels for two
        // threads (10 channels would fit the budget, but 7 blocks do not share evenly).
        let nchw = Layout {
            n: 32,
            c: 64,
            s: 3136,
        };
        assert_eq!(ChannelBlocks::new(nchw, 4, 1, 2).block, 8);
        // A channel larger than the budget is a block of its own.
        let big = Layout {
            n: 1600,
            c: 3,
            s: 3136,
        };
        assert_eq!(ChannelBlocks::new(big, 8, 2, 2).block, 1);
        // Small inputs are one block; more threads than channels leave one channel a block.
        let small = Layout { n: 8, c: 7, s: 64 };
        assert_eq!(ChannelBlocks::new(small, 8, 2, 1).block, 7);
        assert_eq!(ChannelBlocks::new(small, 8, 2, 16).block, 1);
    }

    #[test]
    fn blocks_cover_every_channel_once() {
        for (c, block) in [(10, 3), (64, 8), (7, 7), (5, 1)] {
            let cut = ChannelBlocks { block };
            let seen: Vec<usize> = (0..cut.count(c)).flat_map(|b| cut.channels(b, c)).collect();
            assert_eq!(seen, (0..c).collect::<Vec<_>>());
        }
    }

    #[test]
    fn two_passes_see_every_row_once_in_sample_order() {
        // Big enough for the pool, with blocks of several channels and a short last block.
        let l = Layout {
            n: 4,
            c: 37,
            s: 1000,
        };
        let written = std::sync::Mutex::new(vec![]);
        let passes = Passes {
            first: |ch: usize, start: usize, acc: &mut Vec<usize>| {
                assert_eq!(start % l.s, 0);
                assert_eq!(start / l.s % l.c, ch);
                acc.push(start / l.s / l.c);
            },
            finish: |ch: usize, acc: Vec<usize>| {
                assert_eq!(acc, (0..l.n).collect::<Vec<_>>());
                ch
            },
            second: |ch: usize, start: usize, coef: &usize| {
                assert_eq!(*coef, ch);
                written.lock().unwrap().push(start);
            },
        };
        let got = two_passes(l, 8, 2, passes).unwrap();
        assert_eq!(got, (0..l.c).collect::<Vec<_>>());
        let mut rows = written.into_inner().unwrap();
        rows.sort_unstable();
        let all: Vec<usize> = (0..l.n * l.c).map(|r| r * l.s).collect();
        assert_eq!(rows, all);
    }
}
