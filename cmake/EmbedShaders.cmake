# SPDX-License-Identifier: MIT
# Compiles GLSL compute shaders to SPIR-V with glslangValidator at build time and embeds them
# in a static library with a generated registry (an enum plus a table). A shader that fails to
# compile fails the build.

find_program(GLSLANG_VALIDATOR glslangValidator REQUIRED)

# overfeat_embed_shaders(<target> <shader.comp>...)
function(overfeat_embed_shaders target)
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
  file(MAKE_DIRECTORY ${gen_dir}/overfeat)
  set(headers)
  set(enum_entries)
  set(table_entries)
  set(include_lines)
  # Every shader depends on every include file beside it (common.glsl, activation.glsl, ...).
  file(GLOB shader_includes CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.glsl)
  foreach(src IN LISTS ARGN)
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(abs ${src} ABSOLUTE)
    set(out ${gen_dir}/spv/${name}.spv.h)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_dir}/spv
      COMMAND ${GLSLANG_VALIDATOR} -V --target-env vulkan1.1 --quiet
              -I${CMAKE_CURRENT_SOURCE_DIR} --vn spv_${name} -o ${out} ${abs}
      DEPENDS ${abs} ${shader_includes}
      COMMENT "glslang: ${name}.comp -> SPIR-V"
      VERBATIM)
    list(APPEND headers ${out})
    string(APPEND enum_entries "  ${name},\n")
    string(APPEND table_entries "    {\"${name}\", spv_${name}, sizeof(spv_${name}) / sizeof(uint32_t)},\n")
    string(APPEND include_lines "#include \"spv/${name}.spv.h\"\n")
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/shader_registry.hpp.in
                 ${gen_dir}/overfeat/shader_registry.hpp @ONLY)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/shader_registry.cpp.in
                 ${gen_dir}/shader_registry.cpp @ONLY)
  add_library(${target} STATIC ${gen_dir}/shader_registry.cpp ${headers})
  target_include_directories(${target} PUBLIC ${gen_dir})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
