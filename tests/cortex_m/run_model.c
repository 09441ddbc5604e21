/* Runs the network of model.h (found on the include path) on every image of
 * the file argv[1] (MODEL_INPUT_BYTES bytes each) and writes its outputs
 * (MODEL_OUTPUTS floats an image) to the file argv[2]. The C header tests
 * and benchmarks/cortex_m_instructions build it for this machine and for
 * Cortex-M, where newlib's semihosting opens the host's files. */
#include <stdio.h>
#define MODEL_IMPLEMENTATION
#include "model.h"
#include "model.h" /* twice: the header's guards hold */

int main(int argc, char** argv) {
  static uint8_t image[MODEL_INPUT_BYTES];
  static float arena[MODEL_ARENA_FLOATS];
  FILE* in;
  FILE* out;
  if (argc < 3) return 1;
  in = fopen(argv[1], "rb");
  out = fopen(argv[2], "wb");
  if (!in || !out) return 2;
  while (fread(image, 1, MODEL_INPUT_BYTES, in) == MODEL_INPUT_BYTES) {
    const float* outputs = model_forward(image, arena);
    if (!outputs || fwrite(outputs, sizeof(float), MODEL_OUTPUTS, out) != MODEL_OUTPUTS) return 3;
  }
  fclose(in);
  return fclose(out) == 0 ? 0 : 4;
}
