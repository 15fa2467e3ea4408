//! Sequencing tests of the whole request pipeline without a socket (see `crate::testing`): which encryption
//! an object gets, how data keys are issued and cached, and what a client sees when something is refused.

mod encryption_choice;
mod jobs;
mod key_cache;
mod kms_calls;
mod refusals;
mod reseal;
mod rewrap;
mod small_reads;
