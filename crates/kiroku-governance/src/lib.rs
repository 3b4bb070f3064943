//! Governance of a kiroku installation: the MHLW guideline's appendix tables 付表1-3 as versioned
//! data ([`catalogue`]), and what a facility decides from them. Pure: no IO except reading a
//! catalogue file a caller names.

pub mod catalogue;

pub use catalogue::{Catalogue, CatalogueError, FacilityClass, Item, Parameter, Row, Target};
