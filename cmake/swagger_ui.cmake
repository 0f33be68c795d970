# Swagger UI for /api/v1/docs comes from npm's swagger-ui-dist, pinned in
# web/vendor/package-lock.json and never copied into the repository. Two build
# steps (CMakeLists.txt), both run as cmake -P with -DSTEP=...:
#   install  -DVENDOR_DIR=web/vendor -DNPM=/usr/bin/npm -DSTAMP=...
#            runs npm ci when node_modules does not hold the pinned version,
#            then touches STAMP (inside node_modules, so that deleting
#            node_modules makes the next build install again);
#   embed    -DVENDOR_DIR=web/vendor -DOUT=swaggerassets.c -DFILES="a|b|c"
#            embeds the allow-listed files as swagger_ui_assets[].
# Two builds (presets) may install at once over one source tree: a lock keeps
# their npm runs apart.
set(pkg_dir ${VENDOR_DIR}/node_modules/swagger-ui-dist)
file(READ ${VENDOR_DIR}/package-lock.json lock)
string(JSON pinned GET "${lock}" packages node_modules/swagger-ui-dist version)

function(installed_version out)
    set(version "")
    if(EXISTS ${pkg_dir}/package.json)
        file(READ ${pkg_dir}/package.json pkg)
        string(JSON version ERROR_VARIABLE err GET "${pkg}" version)
    endif()
    set(${out} "${version}" PARENT_SCOPE)
endfunction()

if(STEP STREQUAL "install")
    installed_version(have)
    if(NOT have STREQUAL pinned)
        file(LOCK ${VENDOR_DIR}/.npm-install.lock GUARD PROCESS TIMEOUT 900)
        installed_version(have)
    endif()
    if(NOT have STREQUAL pinned)
        if(NOT NPM)
            message(FATAL_ERROR "Swagger UI (npm package swagger-ui-dist ${pinned}) is not "
                "installed in ${VENDOR_DIR}/node_modules and npm was not found. Install Node.js "
                "and npm (scripts/deps.sh run does) and build again, or run "
                "`npm ci --ignore-scripts` in ${VENDOR_DIR}.")
        endif()
        message(STATUS "Installing swagger-ui-dist ${pinned} with npm ci in ${VENDOR_DIR}")
        # --ignore-scripts: swagger-ui-dist's dependency @scarf/scarf would
        # otherwise phone home from an install script; nothing here needs one.
        execute_process(COMMAND ${CMAKE_COMMAND} -E env SCARF_ANALYTICS=false
                ${NPM} ci --ignore-scripts --no-audit --no-fund
            WORKING_DIRECTORY ${VENDOR_DIR}
            RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
        installed_version(have)
        if(NOT rc EQUAL 0 OR NOT have STREQUAL pinned)
            message(FATAL_ERROR "npm ci in ${VENDOR_DIR} failed (exit ${rc}); the docs page "
                "needs swagger-ui-dist ${pinned} from the npm registry (is it reachable?):\n"
                "${out}")
        endif()
    endif()
    file(TOUCH ${STAMP})
elseif(STEP STREQUAL "embed")
    string(REPLACE "|" ";" FILES "${FILES}")
    foreach(name ${FILES})
        if(NOT EXISTS ${pkg_dir}/${name})
            message(FATAL_ERROR "swagger-ui-dist ${pinned} has no ${name}: update "
                "SWAGGER_UI_FILES in CMakeLists.txt to the files this version needs")
        endif()
    endforeach()
    set(WEB_DIR ${pkg_dir})
    set(SYMBOL swagger_ui_assets)
    include(${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
else()
    message(FATAL_ERROR "swagger_ui.cmake: STEP must be install or embed")
endif()
