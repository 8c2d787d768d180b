# Compiles bpf/*.bpf.c with clang into BPF objects and turns each into a
# libbpf skeleton header (<name>.skel.h) with `bpftool gen skeleton`.
# vmlinux.h is generated from the running kernel's BTF unless one is given.
set(BPF_SKEL_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_SKEL_DIR})

set(GOTRACE_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF used to generate vmlinux.h")
add_custom_command(
  OUTPUT ${BPF_SKEL_DIR}/vmlinux.h
  COMMAND ${BPFTOOL} btf dump file ${GOTRACE_VMLINUX_BTF} format c > ${BPF_SKEL_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${GOTRACE_VMLINUX_BTF}")

execute_process(COMMAND uname -m OUTPUT_VARIABLE _bpf_uname OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_bpf_uname STREQUAL "x86_64")
  set(BPF_TARGET_ARCH x86)
elseif(_bpf_uname STREQUAL "aarch64")
  set(BPF_TARGET_ARCH arm64)
else()
  message(FATAL_ERROR "unsupported host architecture ${_bpf_uname}")
endif()

file(GLOB BPF_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.bpf.c)
file(GLOB BPF_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/include/gotrace/bpf/*.h)
set(BPF_SKELETONS)
foreach(src ${BPF_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  set(obj ${BPF_SKEL_DIR}/${name}.bpf.o)
  set(skel ${BPF_SKEL_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${BPF_SKEL_DIR} -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/include
            -Wall -Werror -Wno-unused-function -c ${src} -o ${obj}
    DEPENDS ${src} ${BPF_HEADERS} ${BPF_SKEL_DIR}/vmlinux.h
    COMMENT "BPF ${name}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}")
  list(APPEND BPF_SKELETONS ${skel})
endforeach()
add_custom_target(gotrace_bpf_skeletons DEPENDS ${BPF_SKELETONS} ${BPF_SKEL_DIR}/vmlinux.h)
