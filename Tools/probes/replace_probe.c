// What one `.eager` write does to the disk, without StateJournal: append a
// 200-byte record + fdatasync, then replace a STATE.md-sized file keeping a
// backup — mode 1: link + rename + rename (each replacing an existing name);
// mode 2: exchange + exchange + unlink (nothing renamed over a file; what
// FileSystem.commit does on Linux); mode 0: the append alone.
// Docs/PERFORMANCE.md, "STATE.md by an exchange of names":
//   cc -O2 -o /tmp/replace_probe Tools/probes/replace_probe.c
//   mkdir -p .probe && cd .probe && for m in 0 1 2 1 2; do rm -f journal STATE.md*; /tmp/replace_probe $m 3000 30000; done
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <sys/resource.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  int mode=atoi(argv[1]); int n=atoi(argv[2]); size_t sz=atoi(argv[3]);
  char *buf=malloc(sz); memset(buf,'a',sz); char rec[200]; memset(rec,'r',200);
  int j=open("journal",O_WRONLY|O_CREAT|O_APPEND,0644);
  int s=open("STATE.md",O_WRONLY|O_CREAT|O_TRUNC,0644); write(s,buf,sz); close(s);
  double t0=now();
  for(int i=0;i<n;i++){
    write(j,rec,200); fdatasync(j);
    if(mode==0) continue;
    int f=open("STATE.md.tmp",O_WRONLY|O_CREAT|O_EXCL,0644); write(f,buf,sz); close(f);
    if(mode==1){ link("STATE.md","STATE.md.backup.tmp"); rename("STATE.md.backup.tmp","STATE.md.backup"); unlink("STATE.md.backup.tmp"); rename("STATE.md.tmp","STATE.md"); }
    else { if(renameat2(AT_FDCWD,"STATE.md.tmp",AT_FDCWD,"STATE.md",RENAME_EXCHANGE)) perror("exchange");
           if(renameat2(AT_FDCWD,"STATE.md.tmp",AT_FDCWD,"STATE.md.backup",RENAME_EXCHANGE)) rename("STATE.md.tmp","STATE.md.backup");
           else unlink("STATE.md.tmp"); }
  }
  double t=now()-t0; struct rusage r; getrusage(RUSAGE_SELF,&r);
  printf("mode %d: %.3f ms/write, cpu %.3f ms/write\n",mode,t*1000/n,(r.ru_utime.tv_sec*1e3+r.ru_utime.tv_usec/1e3+r.ru_stime.tv_sec*1e3+r.ru_stime.tv_usec/1e3)/n);
}
