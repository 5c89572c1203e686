# tirpc_codec.cmake - the libtirpc rpcgen codec of the server's nfs4_prot.x,
# for the project's own v4 client (tests/nfs4 and bench/v4bench).  Each
# caller directory generates its own copy: a custom command's outputs are
# only buildable by targets of the directory that declares it.
#
# gatefs_nfs4_tirpc_codec(<sources-var> <include-dir-var>)
function(gatefs_nfs4_tirpc_codec sources_var dir_var)
  # Strip the ntirpc glue of the server's .x, as tests/nfs3 does.
  set(tc_dir ${CMAKE_CURRENT_BINARY_DIR}/tirpc)
  file(MAKE_DIRECTORY ${tc_dir})
  set(x ${PROJECT_SOURCE_DIR}/server/nfs4/nfs4_prot.x)
  add_custom_command(OUTPUT ${tc_dir}/nfs4_prot.h ${tc_dir}/nfs4_prot_xdr.c
    COMMAND sed -e "/^%#include <rpc\\/xdr_inline.h>/d" -e "/^#ifdef RPC_XDR/,/^#endif/d" ${x} > ${tc_dir}/nfs4_prot.x
    COMMAND rm -f nfs4_prot.h nfs4_prot_xdr.c
    COMMAND rpcgen -h -o nfs4_prot.h nfs4_prot.x
    COMMAND rpcgen -c -o nfs4_prot_xdr.c nfs4_prot.x
    WORKING_DIRECTORY ${tc_dir}
    DEPENDS ${x} VERBATIM)
  set_source_files_properties(${tc_dir}/nfs4_prot_xdr.c PROPERTIES COMPILE_OPTIONS
    "-Wno-unused-variable;-Wno-unused-parameter;-Wno-unused-but-set-variable;-Wno-cast-function-type")
  set(${sources_var} ${tc_dir}/nfs4_prot_xdr.c ${tc_dir}/nfs4_prot.h PARENT_SCOPE)
  set(${dir_var} ${tc_dir} PARENT_SCOPE)
endfunction()
