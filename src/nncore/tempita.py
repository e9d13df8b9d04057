"""Renders a Tempita template (the engine Cython ships) at build time, as scikit-learn renders
its .pyx.tp files: python tempita.py TEMPLATE OUTPUT [name=value ...], each name=value a
string the template sees as a variable. CMake runs it (see CMakeLists.txt)."""
import sys

from Cython import Tempita


def main(template: str, output: str, *assignments: str) -> None:
    values = dict(assignment.split("=", 1) for assignment in assignments)
    with open(template, encoding="utf-8") as source:
        text = Tempita.sub(source.read(), **values)
    with open(output, "w", encoding="utf-8") as target:
        target.write(text)


if __name__ == "__main__":
    main(*sys.argv[1:])
