//! Machine- and human-readable reports of what the commands computed:
//! JSON for scripts ([`json`]). The values come from the library (commands,
//! control, adapt); this module only lays them out.

pub mod json;
#[cfg(test)]
mod tests;
