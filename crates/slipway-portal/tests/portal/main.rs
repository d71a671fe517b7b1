//! The integration tests of the portal: its pages in front of a real API router on a fresh
//! store (`pages.rs`), and one user journey in Debian's Chromium (`browser.rs`).

mod browser;
mod common;
mod pages;
