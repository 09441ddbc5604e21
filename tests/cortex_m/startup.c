/* Start-up for a test program on QEMU's Cortex-M boards mps2-an385
 * (Cortex-M3) and mps2-an386 (Cortex-M4F), with semihosting: the vector
 * table the core reads at address 0, the FPU switched on where there is
 * one, then newlib's semihosting start (rdimon crt0: stack, heap, argv,
 * files on the host, exit status). Linked with mps2.ld. */
#include <stdint.h>

extern void _start(void);
extern uint32_t __stack_top;

void reset_handler(void);
void reset_handler(void) {
#if defined(__ARM_FP)
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20; /* CPACR: full access to CP10 and CP11 */
  __asm volatile("dsb\n\tisb");
#endif
  _start();
  for (;;) {
  }
}

static void hang(void) {
  for (;;) {
  }
}

/* Initial stack pointer, reset, NMI, hard fault, memory, bus and usage
 * faults, four reserved, SVC, debug monitor, reserved, PendSV, SysTick. */
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t)&__stack_top, (uintptr_t)reset_handler, (uintptr_t)hang, (uintptr_t)hang, (uintptr_t)hang,
    (uintptr_t)hang,         (uintptr_t)hang,          0,                0,                0,
    0,                       (uintptr_t)hang,          (uintptr_t)hang,  0,                (uintptr_t)hang,
    (uintptr_t)hang};
