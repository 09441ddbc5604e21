// An image_batch holds bytes; making one from floats (normalised images)
// would cast them silently, so it does not compile.
// expect: nibble::image_batch holds the image's bytes .* it cannot be made from floats
#include <nibble/core/shape.hpp>

nibble::image_batch images(const nibble::activation& normalised) { return normalised; }
