/* nnpy._cpu: which x86-64 instruction-set features this processor and its OS let nnpy use.
 *
 * nnpy._dispatch picks the build of the core from this, so the choice is the same whatever
 * numpy is installed (numpy's own CPU table is private and its keys change between versions).
 * A feature counts only when the processor has it (CPUID) and the OS saves its registers on a
 * context switch (XCR0, read with XGETBV once the OS has set OSXSAVE); macOS enables AVX-512
 * state on first use, so there the kernel's hw.optional.avx512f answers instead.
 * Built for the baseline only; on other architectures features() is empty. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define NNPY_X86_64 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

#ifdef NNPY_X86_64
/* CPUID leaf `leaf`, sub-leaf `sub`: regs = {eax, ebx, ecx, edx}. */
static void cpuid(unsigned int leaf, unsigned int sub, unsigned int regs[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int r[4];
    __cpuidex(r, (int)leaf, (int)sub);
    for (int i = 0; i < 4; i++) regs[i] = (unsigned int)r[i];
#else
    __asm__ volatile("cpuid"
                     : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                     : "a"(leaf), "c"(sub));
#endif
}

/* XCR0: the register state the OS saves. Only valid to call when CPUID says OSXSAVE. */
static unsigned long long xcr0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    unsigned int eax, edx;
    /* the opcode's bytes, so that no -mxsave flag is needed on a baseline build */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
#endif
}

#if defined(__APPLE__)
/* 1 when the macOS kernel reports the sysctl `name` as 1. */
static int sysctl_flag(const char *name)
{
    int value = 0;
    size_t size = sizeof(value);
    return sysctlbyname(name, &value, &size, NULL, 0) == 0 && value == 1;
}
#endif

#define BIT(reg, n) (((reg) >> (n)) & 1u)
#define XCR0_SSE 0x2ull      /* xmm */
#define XCR0_AVX 0x4ull      /* upper halves of ymm */
#define XCR0_AVX512 0xe0ull  /* opmask, upper halves of zmm0-15, zmm16-31 */

/* Adds name: bool to dict; -1 on error. */
static int put(PyObject *dict, const char *name, int on)
{
    return PyDict_SetItemString(dict, name, on ? Py_True : Py_False);
}
#endif /* NNPY_X86_64 */

static PyObject *features(PyObject *self, PyObject *unused)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL) return NULL;
#ifdef NNPY_X86_64
    unsigned int l0[4], l1[4], l7[4] = {0, 0, 0, 0}, ext0[4], ext1[4] = {0, 0, 0, 0};
    cpuid(0, 0, l0);          /* l0[0]: highest standard leaf */
    cpuid(1, 0, l1);
    if (l0[0] >= 7) cpuid(7, 0, l7);
    cpuid(0x80000000u, 0, ext0);  /* ext0[0]: highest extended leaf */
    if (ext0[0] >= 0x80000001u) cpuid(0x80000001u, 0, ext1);

    int osxsave = BIT(l1[2], 27);
    unsigned long long xcr = osxsave ? xcr0() : 0;
    int avx_state = (xcr & (XCR0_SSE | XCR0_AVX)) == (XCR0_SSE | XCR0_AVX);
    int avx512_state = avx_state && (xcr & XCR0_AVX512) == XCR0_AVX512;
#if defined(__APPLE__)
    avx512_state = avx_state && sysctl_flag("hw.optional.avx512f");
#endif
    int avx512f = avx512_state && BIT(l7[1], 16);

    if (put(dict, "cx16", BIT(l1[2], 13))
        || put(dict, "lahf_lm", BIT(ext1[2], 0))
        || put(dict, "popcnt", BIT(l1[2], 23))
        || put(dict, "sse3", BIT(l1[2], 0))
        || put(dict, "ssse3", BIT(l1[2], 9))
        || put(dict, "sse4_1", BIT(l1[2], 19))
        || put(dict, "sse4_2", BIT(l1[2], 20))
        || put(dict, "osxsave", osxsave)
        || put(dict, "avx", avx_state && BIT(l1[2], 28))
        || put(dict, "avx2", avx_state && BIT(l7[1], 5))
        || put(dict, "fma", avx_state && BIT(l1[2], 12))
        || put(dict, "f16c", avx_state && BIT(l1[2], 29))
        || put(dict, "bmi1", BIT(l7[1], 3))
        || put(dict, "bmi2", BIT(l7[1], 8))
        || put(dict, "lzcnt", BIT(ext1[2], 5))
        || put(dict, "movbe", BIT(l1[2], 22))
        || put(dict, "avx512f", avx512f)
        || put(dict, "avx512bw", avx512f && BIT(l7[1], 30))
        || put(dict, "avx512cd", avx512f && BIT(l7[1], 28))
        || put(dict, "avx512dq", avx512f && BIT(l7[1], 17))
        || put(dict, "avx512vl", avx512f && BIT(l7[1], 31))) {
        Py_DECREF(dict);
        return NULL;
    }
#endif
    return dict;
}

static PyMethodDef methods[] = {
    {"features", features, METH_NOARGS,
     "features() -> dict[str, bool]\n\n"
     "The x86-64 features nnpy's levels need, each True when the processor has it and the OS\n"
     "has enabled its registers; empty on other architectures. Names as in Linux's\n"
     "/proc/cpuinfo, except lzcnt (abm there), osxsave (not listed) and sse3 (pni)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "nnpy._cpu",
    "The processor's instruction-set features, read with CPUID and XGETBV (no numpy).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__cpu(void)
{
    return PyModule_Create(&module);
}
