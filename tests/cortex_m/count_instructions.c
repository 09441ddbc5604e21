/* A QEMU TCG plugin that counts the guest instructions executed and prints
 * the total at exit ("instructions: N"). With the argument blocks=FILE it
 * also writes each translated block's address and the instructions it ran
 * there to FILE, a line each (a block translated twice has two lines), for
 * a profile by function (cortex_m_instructions --profile). Debian's QEMU 7.2 loads plugins but
 * ships neither a counting plugin nor the plugin header, so the few entry
 * points used are declared here, as QEMU 7.2's include/qemu/qemu-plugin.h
 * (plugin API version 1) defines them. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb* tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb* tb, enum qemu_plugin_op op, void* ptr,
                                              uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);
void qemu_plugin_outs(const char* string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed; /* one vCPU: the boards here have one core */

/* blocks=FILE: a counter per translated block, kept in a list (never moved: QEMU adds into it). */
struct block {
  uint64_t address, executed;
  struct block* next;
};
static struct block* blocks;
static const char* blocks_file;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  const size_t n = qemu_plugin_tb_n_insns(tb);
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
  if (blocks_file) {
    struct block* b = calloc(1, sizeof *b);
    if (!b) return;
    b->address = qemu_plugin_tb_vaddr(tb);
    b->next = blocks;
    blocks = b;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->executed, n);
  }
}

static void on_exit_(qemu_plugin_id_t id, void* userdata) {
  char line[64];
  (void)id;
  (void)userdata;
  snprintf(line, sizeof line, "instructions: %" PRIu64 "\n", executed);
  qemu_plugin_outs(line);
  if (blocks_file) {
    FILE* f = fopen(blocks_file, "w");
    const struct block* b;
    if (!f) {
      qemu_plugin_outs("count_instructions: cannot write the blocks file\n");
      return;
    }
    for (b = blocks; b; b = b->next)
      if (b->executed) fprintf(f, "%" PRIx64 " %" PRIu64 "\n", b->address, b->executed);
    fclose(f);
  }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info,
                                                                int argc, char** argv) {
  int i;
  (void)info;
  for (i = 0; i < argc; ++i)
    if (strncmp(argv[i], "blocks=", 7) == 0) blocks_file = argv[i] + 7;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
  return 0;
}
