//! Building `.ko` files: runs kbuild for an emitted snapshot tree against a
//! kernel build directory, building lf_kernel's Module.symvers first.
