//! Userspace control of lf_kernel over generic netlink (`lfc status`,
//! `infer`, `activate`, `rollback`, `app create|destroy`).
