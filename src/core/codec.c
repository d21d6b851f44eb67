/* placeholder: being written */
typedef int nook_placeholder_t;
