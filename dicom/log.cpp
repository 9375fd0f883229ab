/* log.cpp: routes DCMTK's oflog (log4cplus) into the log callback of the SCP the current thread
 * works for, so that dicom/ never writes to stdout/stderr; DCMTK below WARN is silenced. Also
 * huren_dicom__logf, the formatted call of that callback for the rest of the module. */
#include "dicom_int.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "dcmtk/oflog/appender.h"
#include "dcmtk/oflog/logger.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/oflog/spi/logevent.h"

static thread_local const huren_dicom_handlers *t_handlers = nullptr;

namespace
{
class HurenAppender : public dcmtk::log4cplus::Appender
{
  public:
    HurenAppender() {}
    ~HurenAppender() override
    {
        destructorImpl();
    }
    void close() override {}

  protected:
    void append(const dcmtk::log4cplus::spi::InternalLoggingEvent &ev) override
    {
        const huren_dicom_handlers *h = t_handlers;
        if (!h || !h->log)
            return;
        dcmtk::log4cplus::LogLevel l = ev.getLogLevel();
        huren_dicom_log_level lvl = l >= dcmtk::log4cplus::ERROR_LOG_LEVEL  ? HUREN_DICOM_LOG_ERROR
                                    : l >= dcmtk::log4cplus::WARN_LOG_LEVEL ? HUREN_DICOM_LOG_WARN
                                    : l >= dcmtk::log4cplus::INFO_LOG_LEVEL ? HUREN_DICOM_LOG_INFO
                                                                            : HUREN_DICOM_LOG_DEBUG;
        std::string msg = "dcmtk: ";
        msg += ev.getMessage().c_str();
        /* we stop before PixelData on purpose: not worth a warning */
        if (msg.find("encountered, skipping rest of dataset") != std::string::npos)
            lvl = HUREN_DICOM_LOG_DEBUG;
        h->log(lvl, msg.c_str(), h->payload);
    }
};
} // namespace

void huren_dicom__log_init(void)
{
    static std::once_flag once;
    std::call_once(once, [] {
        /* configure() installs DCMTK's console appender; replace it with ours */
        OFLog::configure(OFLogger::WARN_LOG_LEVEL);
        dcmtk::log4cplus::Logger root = dcmtk::log4cplus::Logger::getRoot();
        root.removeAllAppenders();
        root.addAppender(dcmtk::log4cplus::SharedAppenderPtr(new HurenAppender()));
        root.setLogLevel(dcmtk::log4cplus::WARN_LOG_LEVEL);
    });
}

void huren_dicom__log_bind(const huren_dicom_handlers *h)
{
    t_handlers = h;
}

void huren_dicom__logf(const huren_dicom_handlers *h, huren_dicom_log_level lvl, const char *fmt,
                       ...)
{
    if (!h || !h->log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    h->log(lvl, buf, h->payload);
}
