# Compiles src/commands/*/*.bpf.c with clang into BPF objects and turns each into a
# libbpf skeleton header (<name>.skel.h) with `bpftool gen skeleton`.
# The kernel types they use come from bpf/include/vmlinux.h, checked in and
# minimal, so the build host needs no kernel BTF.
#
# The BPF programs are amd64-only (this is the one place that says so): they
# read Go's amd64 register ABI from x86-64 pt_regs (bpf/go_abi.bpf.h).
# arm64 binaries are analysed statically (gotrace info) on any host; gotrace
# refuses to trace on a host that is not x86-64 (host/features.cpp).
set(BPF_SKEL_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_SKEL_DIR})
set(BPF_TARGET_ARCH x86)

# Each command's program sits in its folder (src/commands/<cmd>/<cmd>.bpf.c,
# its records in <cmd>_types.h beside it); bpf/ holds what they share.
file(GLOB BPF_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/commands/*/*.bpf.c)
file(GLOB BPF_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/bpf/include/*.h
     ${CMAKE_SOURCE_DIR}/include/gotrace/bpf/*.h ${CMAKE_SOURCE_DIR}/src/commands/*/*_types.h)
set(BPF_SKELETONS)
foreach(src ${BPF_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  set(obj ${BPF_SKEL_DIR}/${name}.bpf.o)
  set(skel ${BPF_SKEL_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${CMAKE_SOURCE_DIR}/bpf/include -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/include
            -I${CMAKE_SOURCE_DIR}/src
            -Wall -Werror -Wno-unused-function -c ${src} -o ${obj}
    DEPENDS ${src} ${BPF_HEADERS}
    COMMENT "BPF ${name}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}")
  list(APPEND BPF_SKELETONS ${skel})
endforeach()
add_custom_target(gotrace_bpf_skeletons DEPENDS ${BPF_SKELETONS})
