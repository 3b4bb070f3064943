//! Governance of a kiroku installation: the MHLW guideline's appendix tables 付表1-3 as versioned
//! data ([`catalogue`]), the facility's own choices ([`profile`]) and the 運用管理規程 generated
//! from both ([`regulation`]); the compliance checklist computed from live evidence ([`checklist`],
//! [`evidence`], [`mhlw`]) and its exports ([`oscal`], [`disclosure`]). Pure: no IO except reading a
//! catalogue file a caller names.

pub mod catalogue;
pub mod checklist;
pub mod disclosure;
pub mod evidence;
pub mod mhlw;
pub mod oscal;
pub mod profile;
pub mod regulation;

pub use catalogue::{Catalogue, CatalogueError, FacilityClass, Item, Parameter, Row, Target};
pub use profile::{FacilityProfile, People, ProfileError};
pub use regulation::{Article, Chapter, Regulation, RegulationError};
