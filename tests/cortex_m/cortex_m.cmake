# What runs exported C headers on QEMU's Cortex-M boards (the tests, and
# benchmarks/cortex_m_instructions): the Arm bare-metal compiler, QEMU, and
# the plugin that counts the instructions executed (QEMU models no cycles).
# NIBBLE_CORTEX_M_FOUND says whether the tools are there;
# nibble_run_on_cortex_m(target) hands a target their paths.
find_program(NIBBLE_ARM_GCC arm-none-eabi-gcc)
find_program(NIBBLE_QEMU_ARM qemu-system-arm)
if(NIBBLE_ARM_GCC AND NIBBLE_QEMU_ARM)
  set(NIBBLE_CORTEX_M_FOUND ON)
  enable_language(C)
else()
  set(NIBBLE_CORTEX_M_FOUND OFF)
endif()

function(nibble_run_on_cortex_m target)
  if(NOT TARGET nibble_count_instructions)
    add_library(nibble_count_instructions MODULE ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/count_instructions.c)
    target_compile_options(nibble_count_instructions PRIVATE -Wall -Wextra -Werror)
  endif()
  add_dependencies(${target} nibble_count_instructions)
  target_compile_definitions(${target} PRIVATE NIBBLE_ARM_GCC="${NIBBLE_ARM_GCC}"
                                               NIBBLE_QEMU_ARM="${NIBBLE_QEMU_ARM}"
                                               NIBBLE_CORTEX_M_DIR="${CMAKE_CURRENT_FUNCTION_LIST_DIR}"
                                               NIBBLE_COUNT_INSTRUCTIONS="$<TARGET_FILE:nibble_count_instructions>")
endfunction()
