# Turns each backend/meta/lua/NAME.lua into a C string in one generated file:
#   const struct meta_lua_script meta_lua_scripts[] = {{"NAME", "...source..."}, ...};
#   const unsigned meta_lua_script_count;
set(out "/* generated from backend/meta/lua/NAME.lua files by embed_lua.cmake; do not edit */\n")
string(APPEND out "#include <stddef.h>\nstruct meta_lua_script { const char *name; const char *source; };\n")
string(APPEND out "const struct meta_lua_script meta_lua_scripts[] = {\n")
set(count 0)
foreach(f ${INPUTS})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} body)
  string(REPLACE "\\" "\\\\" body "${body}")
  string(REPLACE "\"" "\\\"" body "${body}")
  string(REPLACE "\n" "\\n\"\n\"" body "${body}")
  string(APPEND out "{\"${name}\", \"${body}\"},\n")
  math(EXPR count "${count}+1")
endforeach()
string(APPEND out "{NULL, NULL}};\nconst unsigned meta_lua_script_count = ${count};\n")
file(WRITE ${OUT} "${out}")
