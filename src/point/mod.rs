//! point: one capture point from file to flow table.
//!
//! Owns the capture points from what the user named to each point's flow table:
//!
//! - `inputs`: the command-line arguments resolved into capture points (files, folders,
//!   `-r`, `NAME=PATH`, FIFOs, `-` for standard input).
//! - `model`: what a point's reading leaves for the later stages ([`PointInput`],
//!   [`PointSummary`], [`PointResult`]): correlate, coverage and report import these types
//!   without the reader.
//! - `options`: the knobs of reading ([`ReadOptions`]), the cores freed by finished points
//!   ([`SpareCores`]) and the progress counters ([`Progress`]).
//! - `read`: one point through the first three stages (capture -> decode -> flow), on one
//!   thread or pipelined on two.
//! - `schedule`: the points of a run in parallel, one thread each up to the number of cores;
//!   a point with a core to spare reads on one thread and keeps its flow table on another; a
//!   point that reads alone takes over a core another point has finished with, and pipelines
//!   the rest of its file.

mod inputs;
mod model;
mod options;
mod read;
mod schedule;
#[cfg(test)]
mod tests;

pub use inputs::{
    os_text, point_name, resolve_inputs, resolve_inputs_with, InputError, ResolveOptions,
};
pub use model::{CaptureLoss, Damage, PointInput, PointResult, PointSummary};
pub use options::{Progress, ReadOptions, SpareCores};
pub use read::{analyse_point, analyse_reader};
pub use schedule::analyse_points;
