//! Governance of a kiroku installation: the MHLW guideline's appendix tables 付表1-3 as versioned
//! data ([`catalogue`]), and what a facility decides from them; the compliance checklist computed
//! from live evidence ([`checklist`], [`evidence`], [`mhlw`]) and its exports ([`oscal`],
//! [`disclosure`]). Pure: no IO except reading a catalogue file a caller names.

pub mod catalogue;
pub mod checklist;
pub mod disclosure;
pub mod evidence;
pub mod mhlw;
pub mod oscal;

pub use catalogue::{Catalogue, CatalogueError, FacilityClass, Item, Parameter, Row, Target};
