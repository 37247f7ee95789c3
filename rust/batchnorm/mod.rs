//! Batch-norm forward and backward kernels (the batch-norm issue fills this module in).
